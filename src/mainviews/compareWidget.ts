/**
 * Compare two output notebooks with nbdime (a dependency): its authenticated difftool page,
 * shown in the main area. nbdime reads the two files by absolute path under the server root.
 */
import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import { PageConfig, PathExt, URLExt } from '@jupyterlab/coreutils';
import { LabIcon } from '@jupyterlab/ui-components';

/** The nbdime difftool URL showing `base` → `remote` (paths relative to the server root). */
export function compareUrl(base: string, remote: string): string {
  const root = PageConfig.getOption('serverRoot');
  const absolute = (path: string) => URLExt.join(root, path);
  return (
    URLExt.join(PageConfig.getBaseUrl(), 'nbdime', 'difftool') +
    URLExt.objectToQueryString({
      base: absolute(base),
      remote: absolute(remote)
    })
  );
}

export function createCompareWidget(
  base: string,
  remote: string,
  icon: LabIcon
): MainAreaWidget<IFrame> {
  const content = new IFrame({
    sandbox: ['allow-scripts', 'allow-same-origin'],
    referrerPolicy: 'same-origin'
  });
  content.url = compareUrl(base, remote);
  content.addClass('jp-mvdp-compare');
  const widget = new MainAreaWidget({ content });
  const name = (path: string) => PathExt.basename(path, '.ipynb');
  widget.id = `jp-mvdp-compare-${name(base)}-${name(remote)}`;
  widget.title.label = `Compare ${name(base)} ↔ ${name(remote)}`;
  widget.title.caption = `nbdime diff of ${base} and ${remote}`;
  widget.title.icon = icon;
  widget.title.closable = true;
  return widget;
}
