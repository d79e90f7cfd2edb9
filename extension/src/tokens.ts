/**
 * Shapes of the modelkit server extension's answers, and the interface the models talk to.
 *
 * The models (model.ts) depend on `IModelkitAPI` only; `requestAPI` in handler.ts is its one
 * implementation against the server, which keeps the models testable in plain node.
 */
import { Token } from '@lumino/coreutils';

/** One problem the validator found (severity "error" or "warning"). */
export interface IProblem {
  path: string | null;
  key: string | null;
  expected: string;
  found: string | null;
  severity: string;
}

/** A node-types table: column names and one row per type (id, node count, then the CSV columns). */
export interface ITypesTable {
  columns: string[];
  rows: Array<Array<string | number | boolean | null>>;
}

export interface INodePopulation {
  count: number;
  node_types: { [id: string]: number };
  model_types?: { [type: string]: number };
  file: string | null;
  node_types_table?: ITypesTable;
}

export interface IEdgePopulation {
  count: number;
  source: string;
  target: string;
  edge_types: { [id: string]: number };
  file: string | null;
}

export interface ISpikeSummary {
  count: number;
  n_nodes: number;
  t_min: number | null;
  t_max: number | null;
  sorting: string | null;
}

export interface IReportSummary {
  n_nodes: number;
  n_elements: number;
  n_frames: number;
  time: number[];
  variable: string | null;
  units: string | null;
}

/** GET modelkit/info: what a config or SONATA file holds. */
export interface IInfo {
  path: string;
  kind: string | null;
  nodes: { [population: string]: INodePopulation };
  edges: { [population: string]: IEdgePopulation };
  node_sets?: string[];
  run?: { tstart: number; tstop: number; dt: number };
  inputs?: { [name: string]: { input_type: string; module: string } };
  reports?: { [name: string]: { module: string; variable_name: string } };
  output_dir?: string | null;
  spikes?: { [population: string]: ISpikeSummary };
  report?: { [population: string]: IReportSummary };
  problems: IProblem[];
  preview: { type: 'raster' | 'traces'; path: string } | null;
}

export interface IRasterPopulation {
  name: string;
  count: number;
  shown: number;
  node_ids: number[];
  timestamps: Array<number | null>;
}

export interface IRaster {
  type: 'raster';
  path: string;
  populations: IRasterPopulation[];
  t_min: number | null;
  t_max: number | null;
}

export interface ITraces {
  type: 'traces';
  path: string;
  population: string;
  variable: string | null;
  units: string | null;
  n_nodes: number;
  time: Array<number | null>;
  traces: Array<{ node_id: number; element_id: number; values: Array<number | null> }>;
}

export type IPreview = IRaster | ITraces;

/** One run started from this server's kernels (GET modelkit/runs). */
export interface IRun {
  run_id: string;
  kind: string;
  status: string;
  config: string | null;
  output_dir: string | null;
  backend: string | null;
  engines: number[] | null;
  tstart: number;
  tstop: number;
  t: number;
  fraction: number;
  n_spikes: number;
  started: number;
  updated: number;
  finished: number | null;
  error: string | null;
  /** the run's owner acts on stop requests (POST modelkit/runs/stop) at its next block */
  stop_requests?: boolean;
  /** when the owner saw a stop request (s since the epoch), else null */
  stop_requested?: number | null;
  host?: string;
  user?: string | null;
  /** the notebook whose kernel started the run, relative to the server root, when it is a file there */
  notebook?: string | null;
}

/** GET modelkit/runs: the runs, newest first, and the server's clock (s since the epoch). */
export interface IRunsAnswer {
  runs: IRun[];
  now?: number;
}

/** GET modelkit/runs/output: where a finished run's files are (relative to the server root). */
export interface IRunOutput {
  run_id: string;
  status: string;
  folder: string;
  /** its spikes file, or null when the folder holds none */
  spikes: string | null;
}

/** POST modelkit/runs/stop: the request was accepted (the run stops after its current block). */
export interface IStopAnswer {
  run_id: string;
  status: string;
  stop: 'requested' | 'signalled';
}

/** The server calls the models need. */
export interface IModelkitAPI {
  info(path: string): Promise<IInfo>;
  preview(path: string): Promise<IPreview>;
  openInNotebook(path: string): Promise<{ path: string; kind: string }>;
  runs(): Promise<IRunsAnswer>;
  stopRun(runId: string): Promise<IStopAnswer>;
  /** forget the runs that are over (all, or the one named) */
  clearRuns(runId?: string): Promise<{ cleared: string[] }>;
  runOutput(runId: string): Promise<IRunOutput>;
  copyTutorials(): Promise<{ folder: string; notebooks: string[]; copied: string[] }>;
}

/** The Run monitor's model, for other extensions that want to show runs. */
export const IRunsModel = new Token<IRunsModelLike>('modelkit-jupyterlab:IRunsModel', 'Runs started from this server');

export interface IRunsModelLike {
  readonly runs: ReadonlyArray<IRun>;
  refresh(): Promise<void>;
}
