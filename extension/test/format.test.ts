/**
 * Unit tests of the Run monitor's text: start times, durations, shortened paths (`jlpm test`).
 *
 * Times are built with the local-time Date constructor, so the tests hold in any time zone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  clearCode,
  formatDateTime,
  formatDuration,
  formatStart,
  isActive,
  MAX_PATH_CHARS,
  middleEllipsis,
  runDuration,
  stopCode
} from '../src/format';
import { IRun } from '../src/tokens';

const at = (...args: [number, number, number, number, number, number]) => new Date(...args).getTime() / 1000;

function run(over: Partial<IRun> = {}): IRun {
  return {
    run_id: 'r1', kind: 'simulate', status: 'running', config: 'c.json', output_dir: 'out', backend: 'nest',
    engines: null, tstart: 0, tstop: 50, t: 12.5, fraction: 0.25, n_spikes: 1500, started: 1000, updated: 1010,
    finished: null, error: null, ...over
  };
}

test('start time: the time of day on the same day, else the date and minute', () => {
  const started = at(2026, 11, 5, 6, 12, 3);
  assert.equal(formatStart(started, at(2026, 11, 5, 23, 59, 59)), '06:12:03');
  assert.equal(formatStart(started, at(2026, 11, 6, 0, 0, 1)), '2026-12-05 06:12');
  assert.equal(formatStart(at(2027, 0, 2, 9, 5, 0), at(2027, 0, 2, 9, 5, 0)), '09:05:00');
  assert.equal(formatDateTime(started + 0.9), '2026-12-05 06:12:03');
});

test('durations', () => {
  assert.equal(formatDuration(0), '0.00 s');
  assert.equal(formatDuration(0.047), '0.04 s');
  assert.equal(formatDuration(1), '1.0 s');
  assert.equal(formatDuration(4.26), '4.2 s');
  assert.equal(formatDuration(9.99), '9.9 s');
  assert.equal(formatDuration(10), '10 s');
  assert.equal(formatDuration(59.9), '59 s');
  assert.equal(formatDuration(60), '1 min 00 s');
  assert.equal(formatDuration(185), '3 min 05 s');
  assert.equal(formatDuration(3599), '59 min 59 s');
  assert.equal(formatDuration(3600 * 2 + 3 * 60 + 59), '2 h 03 min');
  assert.equal(formatDuration(-3), '0.00 s', 'clocks apart never show a negative duration');
});

test('a run lasts to its end, to now while it goes, to its last update when lost', () => {
  assert.equal(runDuration(run(), 1042.5), 42.5);
  assert.equal(runDuration(run({ status: 'starting' }), 1001), 1);
  assert.equal(runDuration(run({ status: 'done', finished: 1100 }), 5000), 100);
  assert.equal(runDuration(run({ status: 'stopped', finished: 1030 }), 5000), 30);
  assert.equal(runDuration(run({ status: 'lost' }), 5000), 10);
  assert.equal(runDuration(run(), 900), 0, 'a browser behind the server never shows a negative duration');
  assert.ok(isActive(run()) && isActive(run({ status: 'starting' })));
  assert.ok(!isActive(run({ status: 'stopped' })) && !isActive(run({ status: 'lost' })));
});

test('long paths are shortened in the middle, keeping the file name', () => {
  assert.equal(middleEllipsis('out/spikes.h5'), 'out/spikes.h5');
  const exact = 'a'.repeat(MAX_PATH_CHARS);
  assert.equal(middleEllipsis(exact), exact);
  const p = 'bmtk/examples/point_120cells/very/deep/folder/out.stopped/spikes.h5';
  const s = middleEllipsis(p);
  assert.equal(Array.from(s).length, MAX_PATH_CHARS);
  assert.equal(s, 'bmtk/examples/point…ut.stopped/spikes.h5');
  assert.ok(s.endsWith('/spikes.h5') && s.startsWith('bmtk/'));
  // a long file name keeps its end and a third of the room for the start
  const long = `runs/${'x'.repeat(30)}_simulation_config_with_a_long_name.json`;
  const t = middleEllipsis(long, 30);
  assert.equal(Array.from(t).length, 30);
  assert.equal(t, `runs/${'x'.repeat(4)}…ith_a_long_name.json`);
  assert.ok(t.endsWith('_long_name.json'));
  // no slash at all; very small limits; characters outside the BMP are never cut in two
  assert.equal(middleEllipsis('abcdefghijklmnopqrstuvwxyz', 11), 'abc…tuvwxyz');
  assert.equal(middleEllipsis('abcdefgh', 3), 'abc');
  const emoji = `${'😀'.repeat(30)}/x.h5`;
  const e = middleEllipsis(emoji, 20);
  assert.equal(Array.from(e).length, 20);
  assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(e), 'no lone surrogate');
});

test('the Python equivalents of Stop and Clear finished', () => {
  assert.equal(stopCode('5caabf0273ff'), 'from modelkit.runstatus import request_stop; request_stop("5caabf0273ff")');
  assert.equal(clearCode(), 'from modelkit.runstatus import clear_finished; clear_finished()');
});
