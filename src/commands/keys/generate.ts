import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command';
import { encodeStoreKey, generateStoreKey, keyIdHex, type StoreKeyBits } from '../../keys/store-key';
import { writeSecretFile } from '../../keys/write-key-file';

export default class KeysGenerate extends BaseCommand {
  static override summary = "Generate a new AES key in CockroachDB's store-key file format.";
  static override description = `Writes a 32-byte random key ID followed by a 16, 24 or 32-byte random AES key (48, 56 or 64 bytes), the format of "cockroach gen encryption-key". The file is created with mode 0600 and an existing file is never replaced unless --force is given. Prints the key ID (hex) - never the key.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> store.key',
    '<%= config.bin %> <%= command.id %> --size 128 aes-128.key',
    '<%= config.bin %> <%= command.id %> --force --json store.key',
  ];

  static override args = {
    file: Args.string({ description: 'key file to create', required: true }),
  };

  static override flags = {
    size: Flags.string({
      summary: 'AES key size in bits.',
      options: ['128', '192', '256'],
      default: '256',
    }),
    force: Flags.boolean({ summary: 'Replace FILE if it exists.', default: false }),
  };

  async run(): Promise<{ status: 'ok'; file: string; keyId: string; bits: number }> {
    const { args, flags } = await this.parse(KeysGenerate);
    const bits = Number(flags.size) as StoreKeyBits;
    const key = generateStoreKey(bits);
    this.addSecrets(key.key.toString('hex'));
    await writeSecretFile(args.file, encodeStoreKey(key), { force: flags.force });
    const keyId = keyIdHex(key);
    this.log(`wrote a ${bits}-bit store key to ${args.file} (mode 0600)`);
    this.log(`key ID: ${keyId}`);
    return { status: 'ok', file: args.file, keyId, bits };
  }
}
