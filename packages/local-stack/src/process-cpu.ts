import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports process times in USER_HZ ticks, 100 a second on every architecture it runs on. */
const USER_HZ = 100;

interface Stat {
  command: string;
  ppid: number;
  /** User and system time, all its threads for a process. */
  cpuSeconds: number;
}

/**
 * One /proc/…/stat line; undefined once the process or thread is gone (or off Linux), including a
 * read that races its exit and comes back empty or cut short.
 */
function readStat(path: string): Stat | undefined {
  let line: string;
  try {
    line = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // The command is in parentheses and may hold spaces and parentheses of its own.
  const commandEnd = line.lastIndexOf(')');
  const fields = line.slice(commandEnd + 2).split(' ');
  const ppid = Number(fields[1]);
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  if (commandEnd < 0 || !Number.isFinite(ppid) || !Number.isFinite(cpuSeconds)) return undefined;
  return { command: line.slice(line.indexOf('(') + 1, commandEnd), ppid, cpuSeconds };
}

/** CPU seconds a process has used so far, all its threads; NaN where /proc does not say. */
export function processCpuSeconds(pid: number | undefined): number {
  return readStat(`/proc/${pid}/stat`)?.cpuSeconds ?? Number.NaN;
}

/**
 * CPU seconds each thread of a process has used so far, by thread name (`MainThread` is the
 * event loop, `libuv-worker` libuv's pool, `V8Worker` the garbage collector's and compiler's
 * helpers); empty where /proc does not say.
 */
function threadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    const stat = readStat(`/proc/${pid}/task/${tid}/stat`);
    if (stat) byName.set(stat.command, (byName.get(stat.command) ?? 0) + stat.cpuSeconds);
  }
  return byName;
}

interface TreeProcess {
  pid: number;
  command: string;
  cpuSeconds: number;
}

/**
 * `root` and every process below it that is still running, with the CPU seconds each has used
 * so far. A process that has exited is missing: read it twice around a phase whose processes
 * all outlive it (the servers, the service, PostgreSQL's pooled backends).
 */
function processTree(root: number = process.pid): TreeProcess[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  const stats = new Map<number, Stat>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(`/proc/${entry}/stat`);
    if (!stat) continue;
    const pid = Number(entry);
    stats.set(pid, stat);
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const tree: TreeProcess[] = [];
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    const stat = stats.get(pid);
    if (stat) tree.push({ pid, command: stat.command, cpuSeconds: stat.cpuSeconds });
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** The whole machine's CPU time so far, in seconds of all cores: busy, idle, and stolen. */
export interface MachineCpu {
  busySeconds: number;
  idleSeconds: number;
  /** Time the hypervisor gave this machine's virtual CPUs to someone else. */
  stealSeconds: number;
}

/** From /proc/stat's first line; undefined where it does not say. */
function machineCpu(): MachineCpu | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const [user, nice, system, idle, iowait, irq, softirq, steal] = (text.split('\n', 1)[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((ticks) => Number(ticks) / USER_HZ);
  if (steal === undefined) return undefined;
  return {
    busySeconds: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0),
    idleSeconds: (idle ?? 0) + (iowait ?? 0),
    stealSeconds: steal,
  };
}

/**
 * Where a phase's CPU went, in seconds: the benchmarked service's threads, the servers it runs
 * against, the benchmark's own process (its load generator), and the machine as a whole.
 */
export interface CpuAccount {
  /** The service's event loop (its main thread). */
  eventLoop: number;
  /** The service's libuv pool: password hashing, for the user-service. */
  libuvPool: number;
  /** The service's other threads: V8's garbage collection and compiler helpers above all. */
  serviceOther: number;
  postgres: number;
  nats: number;
  jaeger: number;
  mailpit: number;
  /** The benchmark's own process: the load generator, an in-process SMTP sink. */
  bench: number;
  /** Everything else below the benchmark: the servers' supervisors. */
  other: number;
  /** The whole machine over the phase; undefined where /proc does not say. */
  machine: MachineCpu | undefined;
}

const SERVER_COMMANDS: Record<string, 'postgres' | 'nats' | 'jaeger' | 'mailpit'> = {
  postgres: 'postgres',
  'nats-server': 'nats',
  jaeger: 'jaeger',
  mailpit: 'mailpit',
};

interface CpuSnapshot {
  tree: Map<number, TreeProcess>;
  serviceThreads: Map<string, number>;
  machine: MachineCpu | undefined;
}

function snapshot(servicePid: number): CpuSnapshot {
  return {
    tree: new Map(processTree().map((entry) => [entry.pid, entry])),
    serviceThreads: threadCpuSeconds(servicePid),
    machine: machineCpu(),
  };
}

/**
 * Starts accounting for the CPU of this process's tree from now, around a service with
 * `servicePid`; the returned function tells where it went since. A process that started since
 * counts from zero; one that ended since is missing.
 */
export function startCpuAccount(servicePid: number): () => CpuAccount {
  const start = snapshot(servicePid);
  return () => {
    const end = snapshot(servicePid);
    const account: CpuAccount = {
      eventLoop: 0,
      libuvPool: 0,
      serviceOther: 0,
      postgres: 0,
      nats: 0,
      jaeger: 0,
      mailpit: 0,
      bench: 0,
      other: 0,
      machine: start.machine &&
        end.machine && {
          busySeconds: end.machine.busySeconds - start.machine.busySeconds,
          idleSeconds: end.machine.idleSeconds - start.machine.idleSeconds,
          stealSeconds: end.machine.stealSeconds - start.machine.stealSeconds,
        },
    };
    for (const [name, seconds] of end.serviceThreads) {
      const used = seconds - (start.serviceThreads.get(name) ?? 0);
      if (name === 'MainThread') account.eventLoop += used;
      else if (name === 'libuv-worker') account.libuvPool += used;
      else account.serviceOther += used;
    }
    for (const [pid, entry] of end.tree) {
      if (pid === servicePid) continue;
      const used = entry.cpuSeconds - (start.tree.get(pid)?.cpuSeconds ?? 0);
      const server = SERVER_COMMANDS[entry.command];
      if (server) account[server] += used;
      else if (pid === process.pid) account.bench += used;
      else account.other += used;
    }
    return account;
  };
}
