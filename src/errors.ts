/**
 * The one place that maps failures to exit codes (spec/cli.md). Library modules throw these typed
 * errors; the command layer turns them into a message and an exit code, never a stack trace.
 */
export const ExitCode = {
  ok: 0,
  problems: 1,
  usage: 2,
  key: 3,
  storage: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  readonly exitCode: ExitCodeValue;
  /** Optional hint naming the next thing to try (shown after the message). */
  readonly hint?: string;
  constructor(message: string, exitCode: ExitCodeValue, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Bad flags, bad URI syntax, unreadable input that is the user's to fix. Exit 2. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
  }
}

/** Wrong passphrase or key, KMS refused, no ENCRYPTION-INFO entry for the key. Exit 3. */
export class KeyError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.key, hint);
  }
}

/** Object store not found / unreachable / permission denied. Exit 4. */
export class StorageError extends CliError {
  /** The store's own reason (e.g. "NoSuchKey", "AccessDenied"), already free of secrets. */
  readonly reason?: string;
  constructor(message: string, reason?: string, hint?: string) {
    super(message, ExitCode.storage, hint);
    this.reason = reason;
  }
}

/** The data itself is damaged (integrity or compliance failure). Exit 1. */
export class IntegrityError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.problems, hint);
  }
}
