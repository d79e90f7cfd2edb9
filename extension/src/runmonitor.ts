/**
 * The Run monitor sidebar: runs started from this server's kernels, with status and progress.
 */
import { Widget } from '@lumino/widgets';

import { formatCount, isActive, progressLabel, RunsModel } from './model';
import { IRun } from './tokens';

export class RunMonitorPanel extends Widget {
  constructor(model: RunsModel) {
    super();
    this.model = model;
    this.id = 'modelkit-run-monitor';
    this.addClass('jp-mk-RunMonitor');
    this.title.caption = 'modelkit runs';
    model.changed.connect(this.render, this);
    this.render();
  }

  readonly model: RunsModel;

  dispose(): void {
    this.model.changed.disconnect(this.render, this);
    this.model.stop();
    super.dispose();
  }

  protected onAfterShow(): void {
    this.model.start(); // poll only while visible
  }

  protected onAfterHide(): void {
    this.model.stop();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      this.model.start();
    }
  }

  protected onBeforeDetach(): void {
    this.model.stop();
  }

  render(): void {
    const node = this.node;
    node.replaceChildren();
    const h = document.createElement('h2');
    h.textContent = 'modelkit runs';
    node.append(h);
    if (this.model.error) {
      const e = document.createElement('div');
      e.className = 'jp-mk-error';
      e.textContent = this.model.error;
      node.append(e);
    }
    if (this.model.runs.length === 0) {
      const p = document.createElement('p');
      p.className = 'jp-mk-no-runs';
      p.textContent = 'No run yet: modelkit.simulate() or run_on_cluster() in a notebook of this server shows here.';
      node.append(p);
      return;
    }
    const list = document.createElement('ul');
    list.className = 'jp-mk-runs';
    for (const r of this.model.runs) {
      list.append(this._item(r));
    }
    node.append(list);
  }

  private _item(r: IRun): HTMLLIElement {
    const li = document.createElement('li');
    li.className = `jp-mk-run jp-mk-run-${r.status}`;
    li.setAttribute('data-run-id', r.run_id);
    li.setAttribute('data-status', r.status);
    const stopping = this.model.isStopping(r);
    if (stopping) {
      li.setAttribute('data-stopping', 'true');
    }
    const name = document.createElement('div');
    name.className = 'jp-mk-run-name';
    name.textContent = `${r.config ?? r.run_id} (${r.kind}${r.backend ? `, ${r.backend}` : ''}` +
      `${r.engines ? `, engines ${r.engines.join(' ')}` : ''})`;
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = r.fraction;
    const label = document.createElement('div');
    label.className = 'jp-mk-run-progress';
    const live = isActive(r);
    label.textContent = live
      ? `${stopping ? 'stopping' : r.status} · ${progressLabel(r)} · ${formatCount(r.n_spikes)} spikes`
      : progressLabel(r); // says the final state itself
    li.append(name, bar, label);
    if (live) {
      const stop = document.createElement('button');
      stop.className = 'jp-mk-run-stop jp-Button jp-mod-styled jp-mod-warn';
      stop.textContent = stopping ? 'Stopping…' : 'Stop';
      stop.title = 'stop this run after the block it is simulating';
      stop.disabled = stopping;
      stop.addEventListener('click', () => {
        void this.model.stopRun(r.run_id);
      });
      li.append(stop);
    }
    const refused = this.model.stopError(r.run_id);
    if (refused) {
      const e = document.createElement('div');
      e.className = 'jp-mk-error jp-mk-stop-error';
      e.textContent = `Stop refused: ${refused}`;
      li.append(e);
    }
    if (r.error) {
      const e = document.createElement('div');
      e.className = 'jp-mk-error';
      e.textContent = r.error;
      li.append(e);
    }
    if (r.output_dir) {
      const o = document.createElement('div');
      o.className = 'jp-mk-run-output';
      o.textContent = `output: ${r.output_dir}`;
      li.append(o);
    }
    return li;
  }
}
