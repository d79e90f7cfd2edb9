/**
 * modelkit's JupyterLab extension: SONATA viewer, Run monitor sidebar, tutorials launcher card.
 *
 * Everything the extension learns comes from modelkit's server extension through requestAPI
 * (handler.ts); models (model.ts) hold state and signals, views (viewer.ts, runmonitor.ts) render them.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { serverAPI } from './handler';
import { RunsModel, SONATA_CONFIG_PATTERN, SonataModel } from './model';
import { RunMonitorPanel } from './runmonitor';
import { IRunsModel, IRunsModelLike } from './tokens';
import { NoContentModelFactory, SonataWidgetFactory } from './viewer';

const PLUGIN_ID = 'modelkit-jupyterlab:plugin';
export const VIEWER_FACTORY = 'SONATA viewer';

export namespace CommandIDs {
  export const openInNotebook = 'modelkit:open-in-notebook';
  export const openViewer = 'modelkit:open-viewer';
  export const tutorials = 'modelkit:tutorials';
  export const showRuns = 'modelkit:show-runs';
}

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161"><circle cx="5" cy="6" r="2.5"/><circle cx="19" cy="6" r="2.5"/>' +
  '<circle cx="12" cy="18" r="2.5"/><path d="M6.5 7.5l4.5 8.5M17.5 7.5L13 16M7.5 6h9" stroke="#616161" ' +
  'stroke-width="1.5" fill="none"/></g></svg>';

export const modelkitIcon = new LabIcon({ name: 'modelkit:icon', svgstr: ICON_SVG });

const plugin: JupyterFrontEndPlugin<IRunsModelLike> = {
  id: PLUGIN_ID,
  description: 'SONATA viewer, Run monitor and tutorials for modelkit.',
  autoStart: true,
  provides: IRunsModel,
  optional: [ILauncher, ICommandPalette, ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    settings: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
  ): IRunsModelLike => {
    const { commands, docRegistry, shell } = app;

    // ---- SONATA viewer: default for SONATA .h5 and config-named .json, "Open With" for any JSON
    docRegistry.addModelFactory(new NoContentModelFactory());
    docRegistry.addFileType({
      name: 'sonata-h5',
      displayName: 'SONATA HDF5',
      extensions: ['.h5'],
      mimeTypes: ['application/x-hdf5'],
      contentType: 'file',
      fileFormat: 'base64',
      icon: modelkitIcon
    });
    docRegistry.addFileType({
      name: 'sonata-config',
      displayName: 'SONATA config',
      extensions: [], // by name only: other JSON files keep their usual editor
      pattern: SONATA_CONFIG_PATTERN,
      mimeTypes: ['application/json'],
      contentType: 'file',
      fileFormat: 'text',
      icon: modelkitIcon
    });
    const openInNotebook = async (path: string): Promise<void> => {
      try {
        const nb = await serverAPI.openInNotebook(path);
        await commands.execute('docmanager:open', { path: nb.path });
      } catch (e) {
        await showErrorMessage('Open in notebook', (e as Error).message);
      }
    };
    const factory = new SonataWidgetFactory(
      {
        name: VIEWER_FACTORY,
        label: 'SONATA viewer',
        modelName: 'modelkit-no-content',
        fileTypes: ['sonata-h5', 'sonata-config', 'json'],
        defaultFor: ['sonata-h5', 'sonata-config'],
        readOnly: true
      },
      path => new SonataModel(serverAPI, path),
      openInNotebook
    );
    docRegistry.addWidgetFactory(factory);
    factory.widgetCreated.connect((_, w) => {
      w.title.icon = modelkitIcon;
    });

    commands.addCommand(CommandIDs.openViewer, {
      label: 'Open in SONATA viewer',
      icon: modelkitIcon,
      execute: args => commands.execute('docmanager:open', { path: args.path as string, factory: VIEWER_FACTORY })
    });
    commands.addCommand(CommandIDs.openInNotebook, {
      label: 'Open in notebook (modelkit)',
      execute: args => openInNotebook(args.path as string)
    });

    // ---- Run monitor sidebar
    const runs = new RunsModel(serverAPI);
    const panel = new RunMonitorPanel(runs, {
      openViewer: async path => {
        await commands.execute('docmanager:open', { path, factory: VIEWER_FACTORY });
      },
      openFolder: async path => {
        await commands.execute('filebrowser:go-to-path', { path });
      },
      openNotebook: async path => {
        await commands.execute('docmanager:open', { path });
      }
    });
    panel.title.icon = modelkitIcon;
    shell.add(panel, 'right', { rank: 600 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    commands.addCommand(CommandIDs.showRuns, {
      label: 'Show modelkit runs',
      execute: () => shell.activateById(panel.id)
    });
    if (settings) {
      void settings.load(PLUGIN_ID).then(s => {
        const apply = () => {
          runs.interval = (s.get('runsPollInterval').composite as number) ?? 1000;
        };
        apply();
        s.changed.connect(apply);
      });
    }

    // ---- Tutorials launcher card
    commands.addCommand(CommandIDs.tutorials, {
      label: 'modelkit tutorials',
      caption: 'Copy the modelkit tutorial notebooks here and open the first',
      icon: modelkitIcon,
      execute: async () => {
        try {
          const t = await serverAPI.copyTutorials();
          await commands.execute('filebrowser:go-to-path', { path: t.folder });
          if (t.notebooks.length) {
            await commands.execute('docmanager:open', { path: `${t.folder}/${t.notebooks[0]}` });
          }
        } catch (e) {
          await showErrorMessage('modelkit tutorials', (e as Error).message);
        }
      }
    });
    if (launcher) {
      launcher.add({ command: CommandIDs.tutorials, category: 'modelkit', rank: 1 });
    }
    if (palette) {
      for (const command of [CommandIDs.tutorials, CommandIDs.showRuns]) {
        palette.addItem({ command, category: 'modelkit' });
      }
    }
    return runs;
  }
};

export default plugin;
