/**
 * The SONATA viewer: a document widget showing a config or SONATA file's populations, counts,
 * node types, edge populations, problems and a raster/trace preview, with "Open in notebook".
 */
import { ABCWidgetFactory, DocumentRegistry, DocumentWidget, TextModelFactory } from '@jupyterlab/docregistry';
import { Widget } from '@lumino/widgets';

import { formatCount, populationRows, SonataModel, totals } from './model';
import { IInfo, IPreview, IRaster, ITraces } from './tokens';

/** The model factory for files the viewer never reads in the browser (the server reads them). */
export class NoContentModelFactory extends TextModelFactory {
  get name(): string {
    return 'modelkit-no-content';
  }
  get fileFormat(): any {
    return null; // tells the document context not to fetch the file (SONATA files can be GBs)
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { [k: string]: string } = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, v);
  }
  for (const c of children) {
    e.append(c);
  }
  return e;
}

function table(head: string[], rows: Array<Array<Node | string>>, cls: string): HTMLTableElement {
  const t = el('table', { class: `jp-mk-table ${cls}` });
  t.append(el('thead', {}, el('tr', {}, ...head.map(h => el('th', {}, h)))));
  const body = el('tbody');
  for (const r of rows) {
    body.append(el('tr', {}, ...r.map(c => el('td', {}, c))));
  }
  t.append(body);
  return t;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function drawRaster(canvas: HTMLCanvasElement, r: IRaster): number {
  const ctx = canvas.getContext('2d');
  const t0 = r.t_min ?? 0;
  const t1 = r.t_max ?? 1;
  let offset = 0;
  const ranges = r.populations.map(p => {
    const max = p.node_ids.length ? Math.max(...p.node_ids) + 1 : 0;
    const range = { base: offset, size: max };
    offset += max;
    return range;
  });
  const n = Math.max(1, offset);
  let drawn = 0;
  if (!ctx) {
    return 0;
  }
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  r.populations.forEach((p, k) => {
    ctx.fillStyle = PALETTE[k % PALETTE.length];
    p.node_ids.forEach((id, i) => {
      const t = p.timestamps[i];
      if (t === null) {
        return;
      }
      const x = ((t - t0) / Math.max(1e-9, t1 - t0)) * (canvas.width - 4) + 2;
      const y = canvas.height - 2 - ((ranges[k].base + id + 0.5) / n) * (canvas.height - 4);
      ctx.fillRect(x, y, 2, 2);
      drawn++;
    });
  });
  return drawn;
}

function drawTraces(canvas: HTMLCanvasElement, tr: ITraces): number {
  const ctx = canvas.getContext('2d');
  const vals = tr.traces.flatMap(t => t.values.filter((v): v is number => v !== null));
  if (!ctx || vals.length === 0) {
    return 0;
  }
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const times = tr.time.map(t => t ?? 0);
  const t0 = times[0];
  const t1 = times[times.length - 1];
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  tr.traces.forEach((t, k) => {
    ctx.strokeStyle = PALETTE[k % PALETTE.length];
    ctx.beginPath();
    t.values.forEach((v, i) => {
      if (v === null) {
        return;
      }
      const x = ((times[i] - t0) / Math.max(1e-9, t1 - t0)) * (canvas.width - 4) + 2;
      const y = canvas.height - 2 - ((v - lo) / Math.max(1e-9, hi - lo)) * (canvas.height - 4);
      if (i === 0) {
        ctx.moveTo(x, y);
      } else {
        ctx.lineTo(x, y);
      }
    });
    ctx.stroke();
  });
  return tr.traces.length;
}

/** The panel's view of a SonataModel. */
export class SonataPanel extends Widget {
  constructor(model: SonataModel, onNotebook: (path: string) => Promise<void>) {
    super();
    this.model = model;
    this._onNotebook = onNotebook;
    this.addClass('jp-mk-SonataPanel');
    this.node.tabIndex = -1;
    model.changed.connect(() => this.render(), this);
    this.render();
  }

  readonly model: SonataModel;

  dispose(): void {
    this.model.changed.disconnect(this.render, this);
    super.dispose();
  }

  render(): void {
    const m = this.model;
    const node = this.node;
    node.replaceChildren();
    const open = el('button', { class: 'jp-mk-open-notebook jp-mod-styled jp-mod-accept' }, 'Open in notebook');
    open.onclick = async () => {
      open.disabled = true;
      try {
        await this._onNotebook(m.path);
      } finally {
        open.disabled = false;
      }
    };
    const refresh = el('button', { class: 'jp-mk-refresh jp-mod-styled' }, 'Reload');
    refresh.onclick = () => void m.load();
    node.append(
      el(
        'div',
        { class: 'jp-mk-header' },
        el('h2', {}, m.path),
        el('span', { class: 'jp-mk-kind', 'data-kind': m.info?.kind ?? '' }, m.info?.kind ?? ''),
        open,
        refresh
      )
    );
    if (m.state === 'loading' && !m.info) {
      node.append(el('div', { class: 'jp-mk-loading' }, 'Reading…'));
      return;
    }
    if (m.state === 'error' || !m.info) {
      node.append(el('div', { class: 'jp-mk-error' }, m.error ?? 'not loaded'));
      return;
    }
    this._renderInfo(m.info);
    if (m.error) {
      node.append(el('div', { class: 'jp-mk-error' }, m.error));
    }
    if (m.preview) {
      this._renderPreview(m.preview);
    }
  }

  private _renderInfo(info: IInfo): void {
    const node = this.node;
    const tot = totals(info);
    const parts: string[] = [];
    if (Object.keys(info.nodes).length || Object.keys(info.edges).length) {
      parts.push(
        `${formatCount(tot.nodes)} nodes in ${Object.keys(info.nodes).length} populations, ` +
          `${formatCount(tot.edges)} edges in ${Object.keys(info.edges).length} populations`
      );
    }
    parts.push(`${tot.errors} errors, ${tot.warnings} warnings`);
    node.append(el('p', { class: 'jp-mk-summary' }, parts.join('; ')));
    if (info.run) {
      const r = info.run;
      node.append(
        el('h3', {}, 'Run'),
        el('p', { class: 'jp-mk-run' }, `${r.tstart} to ${r.tstop} ms, dt ${r.dt} ms; output ${info.output_dir ?? ''}`)
      );
      const io = [
        ...Object.entries(info.inputs ?? {}).map(([k, v]) => ['input', k, `${v.input_type} (${v.module})`]),
        ...Object.entries(info.reports ?? {}).map(([k, v]) => ['report', k, `${v.variable_name} (${v.module})`])
      ];
      if (io.length) {
        node.append(table(['', 'name', 'what'], io, 'jp-mk-io'));
      }
    }
    const pops = populationRows(info);
    if (pops.length) {
      node.append(el('h3', {}, 'Node populations'));
      const t = table(
        ['population', 'nodes', 'node types', 'model types'],
        pops.map(p => [p.name, formatCount(p.count), String(p.nodeTypes), p.modelTypes]),
        'jp-mk-nodes'
      );
      t.querySelectorAll('tbody tr').forEach((tr, i) => {
        tr.setAttribute('data-population', pops[i].name);
        tr.setAttribute('data-count', String(pops[i].count));
      });
      node.append(t);
      for (const [name, p] of Object.entries(info.nodes)) {
        if (!p.node_types_table) {
          continue;
        }
        const d = el('details', { class: 'jp-mk-node-types', 'data-population': name });
        d.append(
          el('summary', {}, `node types of ${name} (${p.node_types_table.rows.length})`),
          table(
            p.node_types_table.columns,
            p.node_types_table.rows.map(r => r.map(v => (v === null ? '' : String(v)))),
            'jp-mk-types'
          )
        );
        node.append(d);
      }
    }
    const edges = Object.entries(info.edges);
    if (edges.length) {
      node.append(el('h3', {}, 'Edge populations'));
      const t = table(
        ['population', 'edges', 'source → target', 'edge types'],
        edges.map(([k, e]) => [k, formatCount(e.count), `${e.source} → ${e.target}`, String(Object.keys(e.edge_types).length)]),
        'jp-mk-edges'
      );
      t.querySelectorAll('tbody tr').forEach((tr, i) => {
        tr.setAttribute('data-population', edges[i][0]);
        tr.setAttribute('data-count', String(edges[i][1].count));
      });
      node.append(t);
    }
    for (const [title, data] of [
      ['Spikes', info.spikes],
      ['Report', info.report]
    ] as const) {
      if (data && Object.keys(data).length) {
        node.append(el('h3', {}, title));
        const rows = Object.entries(data).map(([k, v]) => [k, ...Object.values(v).map(x => JSON.stringify(x))]);
        const head = ['population', ...Object.keys(Object.values(data)[0])];
        node.append(table(head, rows, `jp-mk-${title.toLowerCase()}`));
      }
    }
    node.append(el('h3', {}, `Problems (${info.problems.length})`));
    if (info.problems.length === 0) {
      node.append(el('p', { class: 'jp-mk-no-problems' }, 'The validator found no problem.'));
    } else {
      node.append(
        table(
          ['severity', 'file', 'key', 'expected', 'found'],
          info.problems.map(p => [p.severity, p.path ?? '', p.key ?? '', p.expected, p.found ?? '']),
          'jp-mk-problems'
        )
      );
    }
  }

  private _renderPreview(p: IPreview): void {
    const canvas = el('canvas', { class: 'jp-mk-preview', width: '700', height: '260' });
    const title =
      p.type === 'raster'
        ? `Raster of ${p.path} (${formatCount(p.populations.reduce((a, x) => a + x.shown, 0))} of ` +
          `${formatCount(p.populations.reduce((a, x) => a + x.count, 0))} spikes shown)`
        : `Traces of ${p.path}: ${p.variable ?? ''} ${p.units ? `(${p.units})` : ''}, ${p.traces.length} of ` +
          `${p.n_nodes} nodes`;
    this.node.append(el('h3', {}, 'Preview'), el('p', {}, title), canvas);
    const drawn = p.type === 'raster' ? drawRaster(canvas, p) : drawTraces(canvas, p);
    canvas.setAttribute('data-drawn', String(drawn));
  }

  private _onNotebook: (path: string) => Promise<void>;
}

/** Makes a SONATA viewer for a file opened from the file browser. */
export class SonataWidgetFactory extends ABCWidgetFactory<DocumentWidget<SonataPanel>> {
  constructor(
    options: DocumentRegistry.IWidgetFactoryOptions<DocumentWidget<SonataPanel>>,
    private _make: (path: string) => SonataModel,
    private _onNotebook: (path: string) => Promise<void>
  ) {
    super(options);
  }

  protected createNewWidget(context: DocumentRegistry.Context): DocumentWidget<SonataPanel> {
    const model = this._make(context.path);
    const content = new SonataPanel(model, this._onNotebook);
    const widget = new DocumentWidget({ content, context });
    widget.addClass('jp-mk-SonataViewer');
    widget.title.caption = `SONATA: ${context.path}`;
    context.pathChanged.connect((_, path) => {
      model.path = path;
      void model.load();
    });
    void model.load(); // the server reads the file; the context fetches nothing
    return widget;
  }
}
