import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answer of the server extension: its one-line message for the user. */
export class MvdpRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly error: string = '',
    readonly errors: { field: string; message: string }[] = []
  ) {
    super(message);
  }
}

/**
 * Call the server extension's REST API under `<base_url>mvdp/`.
 *
 * URLs come from the server settings, so a JupyterHub base URL works; errors become
 * `MvdpRequestError` carrying the server's `message`.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'mvdp', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new MvdpRequestError(
      'Cannot reach the Jupyter server. Is it running?',
      0,
      'NetworkError'
    );
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 404 && (data === null || !data.message)) {
      throw new MvdpRequestError(
        'The jupyter_mvdp server extension is not enabled: run `jupyter server extension enable jupyter_mvdp` and restart.',
        404,
        'ExtensionMissing'
      );
    }
    throw new MvdpRequestError(
      data?.message ?? `HTTP ${response.status}`,
      response.status,
      data?.error ?? '',
      data?.errors ?? []
    );
  }
  return data as T;
}
