import { UsageError } from '../../errors';
import { DecryptStream } from '../../format/chunked';
import { classifyFormatError } from '../../format/classify-error';
import { STDIO, transformFile } from '../../format/file-io';
import { resolveFileKey } from '../../keys/file-key';
import { BaseCommand } from '../../cli/base-command';
import { fileArgs, fileKeyFlags, fileKeyOptions } from '../../cli/file-flags';

export default class FileDecrypt extends BaseCommand {
  static override summary = "Decrypt one object in CockroachDB's chunked AES-GCM format (versions 2 and 1).";
  static override description = `Every 64 KiB chunk is authenticated before its plaintext is written. A file output is written to a temporary name and renamed only on success: a failure leaves no output file. Output files are mode 0600.

Exit codes: 0 ok; 1 the file is damaged (truncated, not encrypted, unknown version, or a chunk after the first does not authenticate - the message names the chunk and byte offset); 2 usage; 3 wrong key, or the file is damaged at its start (chunk 0 does not authenticate); 4 the input cannot be read / output written.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --key-file data.key BACKUP_MANIFEST manifest.gz',
    '<%= config.bin %> <%= command.id %> --passphrase-file pass.txt --encryption-info ENCRYPTION-INFO 1001.sst 1001.plain.sst',
    '<%= config.bin %> <%= command.id %> --passphrase-env BACKUP_PASS --salt-hex e8d755e1066749f643aea6bea88340ac - - < in.enc > out',
  ];

  static override args = fileArgs;
  static override flags = fileKeyFlags;

  async run(): Promise<{ status: 'ok'; input: string; output: string; bytesIn: number; bytesOut: number }> {
    const { args, flags } = await this.parse(FileDecrypt);
    if (this.jsonEnabled() && args.out === STDIO) throw new UsageError('--json cannot be used with output to stdout (-)');
    const fk = await resolveFileKey(fileKeyOptions('decrypt', args.in, flags));
    this.addSecrets(...fk.secrets);
    let r;
    try {
      r = await transformFile(args.in, args.out, new DecryptStream(fk.key));
    } catch (e) {
      throw classifyFormatError(e, args.in === STDIO ? 'stdin' : args.in);
    }
    if (args.out !== STDIO) this.log(`decrypted ${args.in === STDIO ? 'stdin' : args.in} -> ${args.out} (${r.bytesOut} bytes)`);
    return { status: 'ok', input: args.in, output: args.out, bytesIn: r.bytesIn, bytesOut: r.bytesOut };
  }
}
