/**
 * Front-end state of the SONATA viewer and the Run monitor: data and signals, no DOM.
 *
 * Views (viewer.ts, runmonitor.ts) render these models and call their methods; the models reach
 * the server only through an `IModelkitAPI` (handler.ts in the app).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { isActive } from './format';
import { IInfo, IModelkitAPI, IPreview, IRun, IRunOutput, IRunsModelLike } from './tokens';

export { isActive };

/** Names the viewer opens by default: bmtk and SONATA config names (any other JSON: "Open With"). */
export const SONATA_CONFIG_PATTERN =
  '^(config|circuit_config|simulation_config|config\\.(circuit|simulation)[^/]*|[^/]*[._-](circuit|simulation)[._-]?config)\\.json$';

/** Whether a file name looks like a SONATA circuit or simulation config. */
export function isSonataConfigName(name: string): boolean {
  return new RegExp(SONATA_CONFIG_PATTERN).test(name); // as JupyterLab matches file-type patterns
}

/** Thousands separators, independent of the browser's locale (tests read the text). */
export function formatCount(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** One line per node population, as the viewer's table shows it. */
export interface IPopulationRow {
  name: string;
  count: number;
  nodeTypes: number;
  modelTypes: string;
}

export function populationRows(info: IInfo): IPopulationRow[] {
  return Object.entries(info.nodes).map(([name, p]) => ({
    name,
    count: p.count,
    nodeTypes: Object.keys(p.node_types).length,
    modelTypes: Object.entries(p.model_types ?? {})
      .map(([t, n]) => `${t}: ${formatCount(n)}`)
      .join(', ')
  }));
}

/** Totals over populations: nodes, edges, errors, warnings. */
export function totals(info: IInfo): { nodes: number; edges: number; errors: number; warnings: number } {
  const sum = (xs: Array<{ count: number }>) => xs.reduce((a, x) => a + x.count, 0);
  return {
    nodes: sum(Object.values(info.nodes)),
    edges: sum(Object.values(info.edges)),
    errors: info.problems.filter(p => p.severity === 'error').length,
    warnings: info.problems.filter(p => p.severity !== 'error').length
  };
}

export type LoadState = 'empty' | 'loading' | 'ready' | 'error';

/** The viewer's model: one file's info and preview, and "Open in notebook". */
export class SonataModel {
  constructor(api: IModelkitAPI, path: string) {
    this._api = api;
    this._path = path;
  }

  get path(): string {
    return this._path;
  }
  set path(value: string) {
    this._path = value;
  }
  get state(): LoadState {
    return this._state;
  }
  get info(): IInfo | null {
    return this._info;
  }
  get preview(): IPreview | null {
    return this._preview;
  }
  get error(): string | null {
    return this._error;
  }
  /** Emitted after every state change. */
  get changed(): ISignal<this, LoadState> {
    return this._changed;
  }

  /** Fetch the file's info, then its preview when it has one; errors end in state "error". */
  async load(): Promise<void> {
    this._set('loading');
    try {
      this._info = await this._api.info(this._path);
      this._preview = null;
      this._error = null;
      this._set('ready');
    } catch (e) {
      this._info = null;
      this._error = (e as Error).message;
      this._set('error');
      return;
    }
    if (this._info.preview) {
      try {
        this._preview = await this._api.preview(this._path);
      } catch (e) {
        this._error = `preview: ${(e as Error).message}`;
      }
      this._set('ready');
    }
  }

  /** Create a notebook that loads (and simulates) the file; resolves to its path. */
  async openInNotebook(): Promise<string> {
    const r = await this._api.openInNotebook(this._path);
    return r.path;
  }

  private _set(s: LoadState): void {
    this._state = s;
    this._changed.emit(s);
  }

  private _api: IModelkitAPI;
  private _path: string;
  private _state: LoadState = 'empty';
  private _info: IInfo | null = null;
  private _preview: IPreview | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, LoadState>(this);
}

/** "12.5 / 50 ms (25 %)" or the final state. */
export function progressLabel(run: IRun): string {
  const pct = Math.round(100 * run.fraction);
  const span = `${+run.t.toFixed(3)} / ${+run.tstop.toFixed(3)} ms (${pct} %)`;
  if (run.status === 'done') {
    return `done: ${+run.tstop.toFixed(3)} ms, ${formatCount(run.n_spikes)} spikes`;
  }
  if (run.status === 'failed' || run.status === 'lost' || run.status === 'stopped') {
    return `${run.status} at ${span}`;
  }
  return run.tstop > 0 ? span : run.status;
}

/** Whether any run may still change (then the monitor keeps polling fast). */
export function anyActive(runs: ReadonlyArray<IRun>): boolean {
  return runs.some(r => r.status === 'starting' || r.status === 'running');
}

/** The Run monitor's model: polls the runs route while started. */
export class RunsModel implements IRunsModelLike {
  /**
   * @param api - the server calls
   * @param interval - ms between polls while a run is active (idle: 4x longer)
   */
  constructor(api: IModelkitAPI, interval = 1000) {
    this._api = api;
    this.interval = interval;
  }

  interval: number;

  get runs(): ReadonlyArray<IRun> {
    return this._runs;
  }
  get error(): string | null {
    return this._error;
  }
  get polling(): boolean {
    return this._timer !== null;
  }
  /** Emitted after every poll that changed the list (or its error). */
  get changed(): ISignal<this, ReadonlyArray<IRun>> {
    return this._changed;
  }

  /** Whether any run is over (Clear finished has something to clear). */
  get anyFinished(): boolean {
    return this._runs.some(r => !isActive(r));
  }

  /** Now on the server's clock (s since the epoch): running runs' durations count from their server-side start. */
  serverNow(): number {
    return Date.now() / 1000 + this._skew;
  }

  /** Why the last Open output, Open notebook or Clear of this run (or of all: '') failed, or null. */
  actionError(runId: string): string | null {
    return this._actionErrors.get(runId) ?? null;
  }

  /** Keep (or, with null, forget) why an action on a run failed, and re-render. */
  setActionError(runId: string, message: string | null): void {
    if (message === null) {
      this._actionErrors.delete(runId);
    } else {
      this._actionErrors.set(runId, message);
    }
    this._changed.emit(this._runs);
  }

  /**
   * Where a finished run's files are (GET modelkit/runs/output); a refusal is kept as `actionError(runId)`
   * and resolves to null.
   */
  async output(runId: string): Promise<IRunOutput | null> {
    try {
      const o = await this._api.runOutput(runId);
      if (this._actionErrors.has(runId)) {
        this.setActionError(runId, null);
      }
      return o;
    } catch (e) {
      this.setActionError(runId, `Open output: ${(e as Error).message}`);
      return null;
    }
  }

  /**
   * Forget the runs that are over (POST modelkit/runs/clear), all or the one named; running runs stay.
   * Resolves to the ids cleared (none when the server refused: the message is `actionError('')`).
   */
  async clearFinished(runId?: string): Promise<string[]> {
    let cleared: string[] = [];
    try {
      cleared = (await this._api.clearRuns(runId)).cleared;
      this._actionErrors.delete(runId ?? '');
    } catch (e) {
      this._actionErrors.set(runId ?? '', `Clear: ${(e as Error).message}`);
    }
    for (const id of cleared) {
      this._actionErrors.delete(id);
      this._stopErrors.delete(id);
      this._stopping.delete(id);
    }
    this._key = ''; // re-render with the answer even if the list did not change
    await this.refresh();
    return cleared;
  }

  /** Whether a stop was asked for this run (here, or seen by the run's owner) and it still goes on. */
  isStopping(run: IRun): boolean {
    return isActive(run) && (this._stopping.has(run.run_id) || (run.stop_requested ?? null) !== null);
  }

  /** Why the last Stop of this run was refused (the server's message), or null. */
  stopError(runId: string): string | null {
    return this._stopErrors.get(runId) ?? null;
  }

  /**
   * Ask the server to stop a run after its current block (POST modelkit/runs/stop).
   *
   * The run shows as stopping at once; a refusal (another user's run, one already over) is kept as
   * `stopError(runId)`. Resolves once the list is fetched again.
   */
  async stopRun(runId: string): Promise<void> {
    this._stopping.add(runId);
    this._stopErrors.delete(runId);
    this._changed.emit(this._runs);
    try {
      await this._api.stopRun(runId);
    } catch (e) {
      this._stopping.delete(runId);
      this._stopErrors.set(runId, (e as Error).message);
      this._changed.emit(this._runs);
    }
    this._key = ''; // re-render with the answer even if the list did not change
    await this.refresh();
  }

  /** Fetch the list once. */
  async refresh(): Promise<void> {
    let runs: IRun[];
    try {
      const answer = await this._api.runs();
      runs = answer.runs;
      if (typeof answer.now === 'number') {
        this._skew = answer.now - Date.now() / 1000;
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this._error) {
        this._error = msg;
        this._changed.emit(this._runs);
      }
      return;
    }
    const key = JSON.stringify(runs);
    if (key !== this._key || this._error !== null) {
      this._key = key;
      this._runs = runs;
      this._error = null;
      this._changed.emit(this._runs);
    }
  }

  /** Poll until stop(): every `interval` ms while a run is active, 4x slower when idle. */
  start(): void {
    if (this._timer !== null) {
      return;
    }
    const tick = async () => {
      await this.refresh();
      if (this._timer !== null) {
        this._timer = setTimeout(tick, anyActive(this._runs) ? this.interval : 4 * this.interval);
      }
    };
    this._timer = setTimeout(tick, 0);
  }

  stop(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _api: IModelkitAPI;
  private _stopping = new Set<string>();
  private _stopErrors = new Map<string, string>();
  private _actionErrors = new Map<string, string>();
  /** server clock minus the browser's (s) */
  private _skew = 0;
  private _runs: IRun[] = [];
  private _key = '[]';
  private _error: string | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _changed = new Signal<this, ReadonlyArray<IRun>>(this);
}
