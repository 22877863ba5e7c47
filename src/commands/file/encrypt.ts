import { UsageError } from '../../errors';
import { EncryptStream } from '../../format/chunked';
import { STDIO, transformFile } from '../../format/file-io';
import { resolveFileKey } from '../../keys/file-key';
import { BaseCommand } from '../../cli/base-command';
import { fileArgs, fileKeyFlags, fileKeyOptions } from '../../cli/file-flags';

export default class FileEncrypt extends BaseCommand {
  static override summary = "Encrypt one object in CockroachDB's chunked AES-GCM format (version 2).";
  static override description = `Writes "encrypt" | version 2 | random IV | 64 KiB AES-GCM chunks, the format CockroachDB uses for every encrypted backup file. The key is a raw data key (--key-file) or a passphrase (PBKDF2-HMAC-SHA256, 64000 iterations) with a salt: --salt-hex, or --encryption-info FILE - an existing ENCRYPTION-INFO's salt is reused, and when FILE does not exist a fresh salt is generated and written there.

A file output is written to a temporary name and renamed only on success. Output files are mode 0600.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --key-file data.key plain.bin plain.bin.enc',
    '<%= config.bin %> <%= command.id %> --passphrase-file pass.txt --encryption-info ENCRYPTION-INFO in.sst out.sst',
    'tar c dir | <%= config.bin %> <%= command.id %> --key-file data.key - dir.tar.enc',
  ];

  static override args = fileArgs;
  static override flags = fileKeyFlags;

  async run(): Promise<{
    status: 'ok';
    input: string;
    output: string;
    bytesIn: number;
    bytesOut: number;
    encryptionInfoWritten?: string;
  }> {
    const { args, flags } = await this.parse(FileEncrypt);
    if (this.jsonEnabled() && args.out === STDIO) throw new UsageError('--json cannot be used with output to stdout (-)');
    const fk = await resolveFileKey(fileKeyOptions('encrypt', args.in, flags));
    this.addSecrets(...fk.secrets);
    let r;
    try {
      r = await transformFile(args.in, args.out, new EncryptStream(fk.key));
    } catch (e) {
      await fk.rollback();
      throw e;
    }
    if (fk.wroteEncryptionInfo) this.note(`wrote a new salt to ${fk.wroteEncryptionInfo} (keep it with the output)`);
    if (args.out !== STDIO) this.log(`encrypted ${args.in === STDIO ? 'stdin' : args.in} -> ${args.out} (${r.bytesOut} bytes)`);
    return {
      status: 'ok',
      input: args.in,
      output: args.out,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      ...(fk.wroteEncryptionInfo ? { encryptionInfoWritten: fk.wroteEncryptionInfo } : {}),
    };
  }
}
