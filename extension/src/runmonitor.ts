/**
 * The Run monitor sidebar: runs started from this server's kernels, with their start time, duration, state
 * and progress; Stop, Open output, Open notebook, Clear finished.
 */
import { Widget } from '@lumino/widgets';

import {
  clearCode,
  formatDateTime,
  formatDuration,
  formatStart,
  IN_PYTHON,
  MAX_PATH_CHARS,
  middleEllipsis,
  runDuration,
  stopCode
} from './format';
import { formatCount, isActive, progressLabel, RunsModel } from './model';
import { IRun } from './tokens';

/** What the monitor's buttons open; the app implements them with its commands (index.ts). */
export interface IRunActions {
  /** open a file in the SONATA viewer */
  openViewer(path: string): Promise<void>;
  /** show a folder in the file browser */
  openFolder(path: string): Promise<void>;
  openNotebook(path: string): Promise<void>;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  e.textContent = text;
  return e;
}

/** A path shortened in the middle to `max` characters, the whole path on hover. */
function pathSpan(path: string, cls: string, max: number): HTMLSpanElement {
  const s = el('span', `jp-mk-path ${cls}`, middleEllipsis(path, max));
  s.title = path;
  return s;
}

/** Typical characters of paths, to measure the panel font's mean character width. */
const SAMPLE = 'a_rather_long_folder/experiment_2026/out.h5';

function button(cls: string, text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', `${cls} jp-Button jp-mod-styled`, text);
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

export class RunMonitorPanel extends Widget {
  constructor(model: RunsModel, actions: IRunActions) {
    super();
    this.model = model;
    this._actions = actions;
    this.id = 'modelkit-run-monitor';
    this.addClass('jp-mk-RunMonitor');
    this.title.caption = 'modelkit runs';
    model.changed.connect(this.render, this);
    this.render();
  }

  readonly model: RunsModel;

  dispose(): void {
    this.model.changed.disconnect(this.render, this);
    this._pause();
    super.dispose();
  }

  /** The sidebar was resized: paths are shortened to its new width. */
  protected onResize(): void {
    this.render();
  }

  protected onAfterShow(): void {
    this.render(); // measured now that it has a width
    this._resume(); // poll only while visible
  }

  protected onAfterHide(): void {
    this._pause();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      this._resume();
    }
  }

  protected onBeforeDetach(): void {
    this._pause();
  }

  private _resume(): void {
    this.model.start();
    if (this._ticker === null) {
      this._ticker = setInterval(() => this.tick(), 1000);
    }
  }

  private _pause(): void {
    this.model.stop();
    if (this._ticker !== null) {
      clearInterval(this._ticker);
      this._ticker = null;
    }
  }

  /** Advance the durations of the running runs (every second between polls, without a re-render). */
  tick(): void {
    const now = this.model.serverNow();
    this.node.querySelectorAll<HTMLElement>('.jp-mk-run-duration[data-active="true"]').forEach(d => {
      const seconds = Math.max(0, now - Number(d.dataset.started));
      d.textContent = formatDuration(seconds);
      d.dataset.seconds = seconds.toFixed(1);
    });
  }

  /**
   * How many characters of a path fit on one line after `prefix` characters: the panel's width over the mean
   * width of a path character in its font (MAX_PATH_CHARS while the panel is hidden and has no width).
   */
  private _fit(prefix: number): number {
    if (this._lineChars === null) {
      return MAX_PATH_CHARS;
    }
    return Math.max(12, this._lineChars - prefix);
  }

  private _measure(): void {
    const width = this.node.clientWidth;
    if (width === 0) {
      this._lineChars = null;
      return;
    }
    const probe = el('span', 'jp-mk-path', SAMPLE);
    probe.style.visibility = 'hidden';
    probe.style.position = 'absolute';
    this.node.append(probe);
    const charWidth = probe.getBoundingClientRect().width / SAMPLE.length;
    probe.remove();
    const style = getComputedStyle(this.node);
    const inner = width - parseFloat(style.paddingLeft || '0') - parseFloat(style.paddingRight || '0');
    // a character of margin: paths with wider letters than the sample's mean still fit
    this._lineChars = charWidth > 0 ? Math.floor(inner / charWidth) - 1 : null;
  }

  render(): void {
    const node = this.node;
    node.replaceChildren();
    this._measure();
    const head = el('div', 'jp-mk-runs-header');
    const clear = button('jp-mk-runs-clear', 'Clear finished',
      `Forget the runs that are over (their files stay).\n${IN_PYTHON}${clearCode()}`,
      () => void this.model.clearFinished());
    clear.disabled = !this.model.anyFinished;
    head.append(el('h2', '', 'modelkit runs'), clear);
    node.append(head);
    for (const msg of [this.model.error, this.model.actionError('')]) {
      if (msg) {
        node.append(el('div', 'jp-mk-error', msg));
      }
    }
    if (this.model.runs.length === 0) {
      node.append(el('p', 'jp-mk-no-runs',
        'No run yet: modelkit.simulate() or run_on_cluster() in a notebook of this server shows here.'));
      return;
    }
    const list = el('ul', 'jp-mk-runs');
    const now = this.model.serverNow();
    for (const r of this.model.runs) {
      list.append(this._item(r, now));
    }
    node.append(list);
  }

  private _item(r: IRun, now: number): HTMLLIElement {
    const li = el('li', `jp-mk-run jp-mk-run-${r.status}`);
    li.setAttribute('data-run-id', r.run_id);
    li.setAttribute('data-status', r.status);
    const stopping = this.model.isStopping(r);
    if (stopping) {
      li.setAttribute('data-stopping', 'true');
    }
    const live = isActive(r);

    // the config on a line of its own (as wide as the panel), what runs it under it
    const name = el('div', 'jp-mk-run-name');
    const config = el('span', 'jp-mk-path jp-mk-run-config', middleEllipsis(r.config ?? r.run_id, this._fit(0)));
    config.title = r.config ?? r.run_id;
    name.append(config, el('span', 'jp-mk-run-kind',
      `(${r.kind}${r.backend ? `, ${r.backend}` : ''}${r.engines ? `, engines ${r.engines.join(' ')}` : ''})`));
    const state = el('span', 'jp-mk-run-state', stopping ? 'stopping' : r.status);
    state.setAttribute('data-state', r.status);
    const started = el('span', 'jp-mk-run-started', formatStart(r.started, now));
    started.title = `started ${formatDateTime(r.started)}`;
    const seconds = runDuration(r, now);
    const duration = el('span', 'jp-mk-run-duration', formatDuration(seconds));
    duration.title = live ? 'running for (wall clock)' : 'ran for (wall clock)';
    duration.dataset.started = String(r.started);
    duration.dataset.seconds = seconds.toFixed(1);
    duration.dataset.active = String(live);
    const meta = el('div', 'jp-mk-run-meta');
    meta.append(state, ' · started ', started, ' · ', duration);

    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = r.fraction;
    // the state is on the line above; a finished run's label says it again with where it ended
    const label = el('div', 'jp-mk-run-progress', live
      ? `${progressLabel(r)} · ${formatCount(r.n_spikes)} spikes`
      : progressLabel(r));
    li.append(name, meta, bar, label);

    for (const [msg, cls] of [
      [this.model.stopError(r.run_id), 'jp-mk-stop-error'],
      [this.model.actionError(r.run_id), 'jp-mk-action-error'],
      // a stopped run's "error" says where it stopped: a note, not an error
      [r.error, r.status === 'stopped' ? 'jp-mk-run-note' : '']
    ] as const) {
      if (msg) {
        li.append(el('div', cls === 'jp-mk-run-note' ? cls : `jp-mk-error ${cls}`,
          cls === 'jp-mk-stop-error' ? `Stop refused: ${msg}` : msg));
      }
    }
    for (const [key, p] of [['output', r.output_dir], ['notebook', r.notebook]] as const) {
      if (p) {
        const row = el('div', `jp-mk-run-${key}`, `${key}: `);
        row.append(pathSpan(p, `jp-mk-run-${key}-path`, this._fit(key.length + 2)));
        li.append(row);
      }
    }

    const actions = el('div', 'jp-mk-run-actions');
    if (live) {
      const stop = button('jp-mk-run-stop jp-mod-warn', stopping ? 'Stopping…' : 'Stop',
        `Stop this run after the block it is simulating (its files are kept).\n${IN_PYTHON}${stopCode(r.run_id)}`,
        () => void this.model.stopRun(r.run_id));
      stop.disabled = stopping;
      actions.append(stop);
    }
    if (!live && r.output_dir) {
      actions.append(button('jp-mk-run-open-output', 'Open output',
        "open the run's spikes in the SONATA viewer (or its folder)", () => void this._openOutput(r.run_id)));
    }
    const nb = r.notebook;
    if (nb) {
      actions.append(button('jp-mk-run-open-notebook', 'Open notebook', `open ${nb}, which started this run`,
        () => void this._actions.openNotebook(nb).catch(e =>
          this.model.setActionError(r.run_id, `Open notebook: ${(e as Error).message}`))));
    }
    if (actions.childElementCount) {
      li.append(actions);
    }
    return li;
  }

  private async _openOutput(runId: string): Promise<void> {
    const o = await this.model.output(runId);
    if (o === null) {
      return; // the model keeps why
    }
    try {
      await (o.spikes ? this._actions.openViewer(o.spikes) : this._actions.openFolder(o.folder));
    } catch (e) {
      this.model.setActionError(runId, `Open output: ${(e as Error).message}`);
    }
  }

  private _actions: IRunActions;
  private _ticker: ReturnType<typeof setInterval> | null = null;
  /** characters of a path that fit on one line of the panel (null: not measured, the panel is hidden) */
  private _lineChars: number | null = null;
}
