/**
 * The Run monitor sidebar: runs started from this server's kernels, with their start time, duration, state
 * and progress; Stop, Open output, Open notebook, Clear finished.
 */
import { Widget } from '@lumino/widgets';

import { formatDateTime, formatDuration, formatStart, middleEllipsis, runDuration } from './format';
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

/** A path shortened in the middle, the whole path on hover. */
function pathSpan(path: string, cls: string): HTMLSpanElement {
  const s = el('span', `jp-mk-path ${cls}`, middleEllipsis(path));
  s.title = path;
  return s;
}

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

  protected onAfterShow(): void {
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

  render(): void {
    const node = this.node;
    node.replaceChildren();
    const head = el('div', 'jp-mk-runs-header');
    const clear = button('jp-mk-runs-clear', 'Clear finished', 'forget the runs that are over (their files stay)',
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

    const name = el('div', 'jp-mk-run-name',
      `${middleEllipsis(r.config ?? r.run_id)} (${r.kind}${r.backend ? `, ${r.backend}` : ''}` +
      `${r.engines ? `, engines ${r.engines.join(' ')}` : ''})`);
    name.title = r.config ?? r.run_id;
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
    const label = el('div', 'jp-mk-run-progress', live
      ? `${stopping ? 'stopping' : r.status} · ${progressLabel(r)} · ${formatCount(r.n_spikes)} spikes`
      : progressLabel(r)); // says the final state itself
    li.append(name, meta, bar, label);

    for (const [msg, cls] of [
      [this.model.stopError(r.run_id), 'jp-mk-stop-error'],
      [this.model.actionError(r.run_id), 'jp-mk-action-error'],
      [r.error, '']
    ] as const) {
      if (msg) {
        li.append(el('div', `jp-mk-error ${cls}`, cls === 'jp-mk-stop-error' ? `Stop refused: ${msg}` : msg));
      }
    }
    for (const [key, p] of [['output', r.output_dir], ['notebook', r.notebook]] as const) {
      if (p) {
        const row = el('div', `jp-mk-run-${key}`, `${key}: `);
        row.append(pathSpan(p, `jp-mk-run-${key}-path`));
        li.append(row);
      }
    }

    const actions = el('div', 'jp-mk-run-actions');
    if (live) {
      const stop = button('jp-mk-run-stop jp-mod-warn', stopping ? 'Stopping…' : 'Stop',
        'stop this run after the block it is simulating', () => void this.model.stopRun(r.run_id));
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
}
