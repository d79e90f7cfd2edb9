/**
 * requestAPI: the only path from the extension to modelkit's server extension.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IInfo, IModelkitAPI, IPreview, IRunOutput, IRunsAnswer, IStopAnswer } from './tokens';

/**
 * Call a modelkit route (under `<base_url>/modelkit/`) and parse its JSON answer.
 *
 * @param endPoint - route and query, e.g. `info?path=a%2Fb.json`
 * @param init - fetch options (method, body)
 * @throws Error with the server's `error` message on a non-2xx answer
 */
export async function requestAPI<T>(endPoint = '', init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'modelkit', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the error message
    }
  }
  if (!response.ok) {
    const message = data && typeof data === 'object' && data.error ? data.error : String(data || response.statusText);
    throw new ServerConnection.ResponseError(response, message);
  }
  return data as T;
}

function q(path: string): string {
  return `path=${encodeURIComponent(path)}`;
}

/** The server calls, all through requestAPI. */
export const serverAPI: IModelkitAPI = {
  info: (path: string) => requestAPI<IInfo>(`info?${q(path)}`),
  preview: (path: string) => requestAPI<IPreview>(`preview?${q(path)}`),
  openInNotebook: (path: string) =>
    requestAPI<{ path: string; kind: string }>('notebook', { method: 'POST', body: JSON.stringify({ path }) }),
  runs: () => requestAPI<IRunsAnswer>('runs'),
  stopRun: (runId: string) =>
    requestAPI<IStopAnswer>('runs/stop', { method: 'POST', body: JSON.stringify({ run_id: runId }) }),
  clearRuns: (runId?: string) =>
    requestAPI<{ cleared: string[] }>('runs/clear', {
      method: 'POST',
      body: JSON.stringify(runId === undefined ? {} : { run_id: runId })
    }),
  runOutput: (runId: string) => requestAPI<IRunOutput>(`runs/output?run_id=${encodeURIComponent(runId)}`),
  copyTutorials: () =>
    requestAPI<{ folder: string; notebooks: string[]; copied: string[] }>('tutorials', {
      method: 'POST',
      body: '{}'
    })
};
