/**
 * Unit tests of the front-end models (node's built-in runner: `jlpm test`).
 *
 * The models reach the server through an IModelkitAPI; here it is a small in-process object that
 * answers like the server extension (the real one is exercised by the Playwright tests).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  anyActive,
  formatCount,
  isSonataConfigName,
  populationRows,
  progressLabel,
  RunsModel,
  SonataModel,
  totals
} from '../src/model';
import { IInfo, IModelkitAPI, IPreview, IRun, IRunOutput, IRunsAnswer, IStopAnswer } from '../src/tokens';

function info(over: Partial<IInfo> = {}): IInfo {
  return {
    path: 'net/circuit_config.json',
    kind: 'circuit_config',
    nodes: {
      v1: { count: 300, node_types: { '100': 80, '101': 220 }, model_types: { point_process: 300 }, file: 'a.h5' },
      lgn: { count: 1234567, node_types: { '1': 1234567 }, model_types: { virtual: 1234567 }, file: 'b.h5' }
    },
    edges: { v1_to_v1: { count: 27588, source: 'v1', target: 'v1', edge_types: { '1': 27588 }, file: 'e.h5' } },
    problems: [
      { path: 'e.h5', key: 'k', expected: 'x', found: 'y', severity: 'warning' },
      { path: 'e.h5', key: 'k2', expected: 'x', found: null, severity: 'error' }
    ],
    preview: null,
    ...over
  };
}

function run(over: Partial<IRun> = {}): IRun {
  return {
    run_id: 'r1', kind: 'simulate', status: 'running', config: 'c.json', output_dir: 'out', backend: 'nest',
    engines: null, tstart: 0, tstop: 50, t: 12.5, fraction: 0.25, n_spikes: 1500, started: 1, updated: 2,
    finished: null, error: null, ...over
  };
}

class Api implements IModelkitAPI {
  calls: string[] = [];
  infos: Array<IInfo | Error> = [];
  runLists: Array<IRun[] | Error> = [];
  now: number | undefined = undefined;
  async info(path: string): Promise<IInfo> {
    this.calls.push(`info ${path}`);
    const x = this.infos.shift() ?? new Error('no more answers');
    if (x instanceof Error) {
      throw x;
    }
    return x;
  }
  async preview(path: string): Promise<IPreview> {
    this.calls.push(`preview ${path}`);
    return { type: 'raster', path: 'out/spikes.h5', populations: [], t_min: null, t_max: null };
  }
  async openInNotebook(path: string): Promise<{ path: string; kind: string }> {
    this.calls.push(`notebook ${path}`);
    return { path: path.replace(/\.json$/, '.ipynb'), kind: 'circuit_config' };
  }
  async runs(): Promise<IRunsAnswer> {
    this.calls.push('runs');
    const x = this.runLists.shift() ?? new Error('no more answers');
    if (x instanceof Error) {
      throw x;
    }
    return this.now === undefined ? { runs: x } : { runs: x, now: this.now };
  }
  clearAnswers: Array<string[] | Error> = [];
  async clearRuns(runId?: string): Promise<{ cleared: string[] }> {
    this.calls.push(`clear ${runId ?? '*'}`);
    const x = this.clearAnswers.shift() ?? new Error('no more answers');
    if (x instanceof Error) {
      throw x;
    }
    return { cleared: x };
  }
  outputs: Array<IRunOutput | Error> = [];
  async runOutput(runId: string): Promise<IRunOutput> {
    this.calls.push(`output ${runId}`);
    const x = this.outputs.shift() ?? new Error('no more answers');
    if (x instanceof Error) {
      throw x;
    }
    return x;
  }
  stopAnswers: Array<IStopAnswer | Error> = [];
  async stopRun(runId: string): Promise<IStopAnswer> {
    this.calls.push(`stop ${runId}`);
    const x = this.stopAnswers.shift() ?? new Error('no more answers');
    if (x instanceof Error) {
      throw x;
    }
    return x;
  }
  async copyTutorials(): Promise<{ folder: string; notebooks: string[]; copied: string[] }> {
    return { folder: 't', notebooks: [], copied: [] };
  }
}

test('config names the viewer opens by default', () => {
  for (const n of ['config.json', 'circuit_config.json', 'simulation_config.json', 'config.circuit.json',
    'config.simulation_iclamp.aslist.json', 'v1_circuit_config.json', 'my-simulation-config.json']) {
    assert.ok(isSonataConfigName(n), n);
  }
  for (const n of ['package.json', 'tsconfig.json', 'jupyter_server_config.json', 'config.json.bak',
    'node_sets.json', 'circuit_config.yaml', 'myconfig.json']) {
    assert.ok(!isSonataConfigName(n), n);
  }
});

test('counts are formatted with thousands separators', () => {
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(27588), '27,588');
  assert.equal(formatCount(1234567), '1,234,567');
});

test('population rows and totals', () => {
  const i = info();
  assert.deepEqual(populationRows(i), [
    { name: 'v1', count: 300, nodeTypes: 2, modelTypes: 'point_process: 300' },
    { name: 'lgn', count: 1234567, nodeTypes: 1, modelTypes: 'virtual: 1,234,567' }
  ]);
  assert.deepEqual(totals(i), { nodes: 1234867, edges: 27588, errors: 1, warnings: 1 });
});

test('SonataModel loads info, then the preview when there is one', async () => {
  const api = new Api();
  api.infos.push(info({ kind: 'simulation_config', preview: { type: 'raster', path: 'out/spikes.h5' } }));
  const m = new SonataModel(api, 'net/sim.json');
  const states: string[] = [];
  m.changed.connect((_, s) => states.push(s));
  await m.load();
  assert.deepEqual(states, ['loading', 'ready', 'ready']);
  assert.deepEqual(api.calls, ['info net/sim.json', 'preview net/sim.json']);
  assert.equal(m.state, 'ready');
  assert.equal(m.preview?.type, 'raster');
  assert.equal(await m.openInNotebook(), 'net/sim.ipynb');
});

test('SonataModel without preview, and a server error', async () => {
  const api = new Api();
  api.infos.push(info(), new Error("'path' '../x' contains '..'"));
  const m = new SonataModel(api, 'c.json');
  await m.load();
  assert.deepEqual(api.calls, ['info c.json']);
  assert.equal(m.preview, null);
  await m.load();
  assert.equal(m.state, 'error');
  assert.equal(m.info, null);
  assert.match(m.error ?? '', /contains '\.\.'/);
});

test('progress labels', () => {
  assert.equal(progressLabel(run()), '12.5 / 50 ms (25 %)');
  assert.equal(progressLabel(run({ status: 'done', t: 50, fraction: 1 })), 'done: 50 ms, 1,500 spikes');
  assert.equal(progressLabel(run({ status: 'lost' })), 'lost at 12.5 / 50 ms (25 %)');
  assert.equal(progressLabel(run({ status: 'starting', tstop: 0, t: 0, fraction: 0 })), 'starting');
  assert.ok(anyActive([run({ status: 'done' }), run()]));
  assert.ok(!anyActive([run({ status: 'done' }), run({ status: 'failed' })]));
});

test('RunsModel emits only on change and keeps the last list through errors', async () => {
  const api = new Api();
  const a = [run()];
  const b = [run({ status: 'done', t: 50, fraction: 1 })];
  api.runLists.push(a, JSON.parse(JSON.stringify(a)), new Error('server gone'), b);
  const m = new RunsModel(api, 5);
  let emitted = 0;
  m.changed.connect(() => emitted++);
  await m.refresh();
  await m.refresh(); // same list: no signal
  assert.equal(emitted, 1);
  await m.refresh();
  assert.equal(emitted, 2);
  assert.equal(m.error, 'server gone');
  assert.equal(m.runs[0].status, 'running');
  await m.refresh();
  assert.equal(m.error, null);
  assert.equal(m.runs[0].status, 'done');
  assert.equal(emitted, 3);
});

test('RunsModel polls while started, and stops', async () => {
  const api = new Api();
  for (let i = 0; i < 100; i++) {
    api.runLists.push([run({ t: i })]);
  }
  const m = new RunsModel(api, 5);
  m.start();
  assert.ok(m.polling);
  await new Promise(r => setTimeout(r, 80));
  m.stop();
  const n = api.calls.length;
  assert.ok(n >= 3, `polled ${n} times in 80 ms at 5 ms`);
  await new Promise(r => setTimeout(r, 40));
  assert.equal(api.calls.length, n);
  assert.ok(!m.polling);
});

test('RunsModel.stopRun shows the run stopping at once, then what the server says', async () => {
  const api = new Api();
  api.runLists.push([run()], [run()], [run({ stop_requested: 3 })], [run({ status: 'stopped', stop_requested: 3 })]);
  api.stopAnswers.push({ run_id: 'r1', status: 'running', stop: 'requested' });
  const m = new RunsModel(api, 5);
  await m.refresh();
  assert.ok(!m.isStopping(m.runs[0]));
  let emitted = 0;
  m.changed.connect(() => emitted++);
  const done = m.stopRun('r1');
  assert.ok(m.isStopping(m.runs[0]), 'stopping before the server answered');
  await done;
  assert.deepEqual(api.calls.slice(-2), ['stop r1', 'runs']);
  assert.ok(emitted >= 2);
  assert.ok(m.isStopping(m.runs[0]));
  assert.equal(m.stopError('r1'), null);
  await m.refresh(); // the owner saw the request
  assert.ok(m.isStopping(m.runs[0]));
  await m.refresh(); // it stopped: nothing is stopping any more
  assert.equal(m.runs[0].status, 'stopped');
  assert.ok(!m.isStopping(m.runs[0]));
});

test('RunsModel.stopRun keeps a refusal as the run\'s stop error', async () => {
  const api = new Api();
  const other = run({ run_id: 'r2', host: 'elsewhere' });
  api.runLists.push([other], [other]);
  api.stopAnswers.push(new Error("run r2 runs on host 'elsewhere'"));
  const m = new RunsModel(api, 5);
  await m.refresh();
  await m.stopRun('r2');
  assert.equal(m.stopError('r2'), "run r2 runs on host 'elsewhere'");
  assert.ok(!m.isStopping(m.runs[0]), 'a refused stop does not leave the run stopping');
  assert.equal(m.stopError('r1'), null);
});

test('RunsModel.clearFinished asks the server, forgets what it kept of the cleared runs, and lists again', async () => {
  const api = new Api();
  const stopped = run({ run_id: 'r2', status: 'stopped', finished: 5 });
  api.runLists.push([run(), stopped], [run()], [run()]);
  api.clearAnswers.push(['r2'], new Error('the runs folder is gone'));
  const m = new RunsModel(api, 5);
  await m.refresh();
  assert.ok(m.anyFinished);
  assert.deepEqual(await m.clearFinished(), ['r2']);
  assert.deepEqual(api.calls.slice(-2), ['clear *', 'runs']);
  assert.deepEqual(m.runs.map(r => r.run_id), ['r1']);
  assert.ok(!m.anyFinished, 'nothing left to clear: the button is disabled');
  assert.deepEqual(await m.clearFinished('r1'), []);
  assert.equal(m.actionError('r1'), 'Clear: the runs folder is gone');
});

test('RunsModel.output keeps a refusal as the run\'s action error; the server clock drives durations', async () => {
  const api = new Api();
  api.outputs.push(new Error('run r2 (stopped): its output folder \'out.stopped\' is gone'),
    { run_id: 'r2', status: 'stopped', folder: 'out.stopped', spikes: 'out.stopped/spikes.h5' });
  const m = new RunsModel(api, 5);
  assert.equal(await m.output('r2'), null);
  assert.match(m.actionError('r2') ?? '', /^Open output: .* is gone$/);
  assert.equal((await m.output('r2'))?.spikes, 'out.stopped/spikes.h5');
  assert.equal(m.actionError('r2'), null, 'a later success clears the error');
  // a server clock an hour ahead of the browser's: running runs count from the server's now
  api.now = Date.now() / 1000 + 3600;
  api.runLists.push([run()]);
  await m.refresh();
  assert.ok(Math.abs(m.serverNow() - (Date.now() / 1000 + 3600)) < 5);
});
