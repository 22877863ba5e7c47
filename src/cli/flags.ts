/** Flags shared by the backup commands. Kept outside src/commands so oclif does not load it as a command. */
import { Flags } from '@oclif/core';
import { DEFAULT_CONCURRENCY } from '../engines/pool';

export const selectionFlags = {
  backup: Flags.string({
    summary: 'Work on one full backup of the collection (its subdirectory, e.g. 2025/11/20-101500.00) and its incrementals.',
    exclusive: ['all'],
  }),
  all: Flags.boolean({
    summary: 'Work on every full backup of the collection (default: the one LATEST names).',
    default: false,
  }),
};

export const storageFlags = {
  'nodelocal-root': Flags.string({
    summary: 'Directory that nodelocal://<node|self>/ URIs map under (else $CRDB_CMEK_NODELOCAL_ROOT).',
    helpGroup: 'STORAGE',
  }),
};

export const concurrencyFlag = {
  concurrency: Flags.integer({
    summary: 'Objects processed in parallel.',
    default: DEFAULT_CONCURRENCY,
    min: 1,
    max: 256,
  }),
};

export const reportFlag = {
  report: Flags.string({
    summary: 'Also write the result to this file: .json, .md, or .xml (JUnit).',
  }),
};
