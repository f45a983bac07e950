import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SUPERVISOR = fileURLToPath(new URL('./supervisor.js', import.meta.url));

export interface ManagedProcessOptions {
  /** Used in error messages. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (used to run PostgreSQL, which refuses root). */
  uid?: number;
  gid?: number;
  /** Signal that stops the process cleanly. @default 'SIGTERM' */
  stopSignal?: NodeJS.Signals;
  /** Where stdout and stderr go; a file keeps test output readable. */
  logFile: string;
}

/** A server process that is stopped when {@link ManagedProcess.stop} is called or its parent dies. */
export class ManagedProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  readonly #logWritten: Promise<void>;
  #exitCode: number | null | undefined;
  readonly name: string;
  readonly logFile: string;

  constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    const log = createWriteStream(options.logFile, { flags: 'a' });
    this.#child = spawn(
      process.execPath,
      [SUPERVISOR, options.stopSignal ?? 'SIGTERM', options.command, ...options.args],
      {
        env: options.env ?? process.env,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.uid !== undefined ? { uid: options.uid } : {}),
        ...(options.gid !== undefined ? { gid: options.gid } : {}),
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group: a terminal's Ctrl-C signals the whole foreground group at once,
        // and the servers must instead be stopped in order by whoever started them.
        detached: true,
      },
    );
    // Both into one file, which ends only once both are done (the first to end would end it).
    this.#child.stdout?.pipe(log, { end: false });
    this.#child.stderr?.pipe(log, { end: false });
    this.#logWritten = once(this.#child, 'close').then(async () => {
      log.end();
      await once(log, 'finish');
    });
    this.#exited = once(this.#child, 'exit').then(([code]) => {
      this.#exitCode = code as number | null;
      return this.#exitCode;
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Resolves with the exit code when the process ends on its own or is stopped. */
  exited(): Promise<number | null> {
    return this.#exited;
  }

  /** Resolves once the process's output is all in its log file: its pipes can close after exit. */
  logWritten(): Promise<void> {
    return this.#logWritten;
  }

  /**
   * The last lines of its log once the process's output is all in the file (its pipes can close
   * after it exits), waiting at most `waitMs`: for an error message that says why it is gone.
   */
  async finalLogTail(lines = 20, waitMs = 2_000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#logWritten,
      new Promise((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
    return this.logTail(lines);
  }

  /** The last lines of its log so far. */
  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Stops the process, escalating to SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGUSR1'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kills the server with SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child.kill('SIGUSR1');
    await this.#exited;
  }
}
