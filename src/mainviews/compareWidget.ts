/**
 * Compare two output notebooks with nbdime (a dependency): its authenticated difftool page,
 * shown in the main area. nbdime reads the two files by absolute path under the server root.
 */
import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import { PageConfig, PathExt, URLExt } from '@jupyterlab/coreutils';
import { LabIcon } from '@jupyterlab/ui-components';
import { BoxPanel, Widget } from '@lumino/widgets';

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

/** The line above the diff naming each side: nbdime's Base is left, Remote right. */
function sidesHeader(labels: { base: string; remote: string }): Widget {
  const node = document.createElement('div');
  node.className = 'jp-mvdp-compareSides';
  for (const [side, label] of [
    ['Base (left)', labels.base],
    ['Remote (right)', labels.remote]
  ]) {
    const item = document.createElement('div');
    const name = document.createElement('strong');
    name.textContent = `${side}: `;
    item.append(name, label); // text, never markup
    item.className = 'jp-mvdp-compareSide';
    node.appendChild(item);
  }
  return new Widget({ node });
}

export function createCompareWidget(
  base: string,
  remote: string,
  icon: LabIcon,
  labels?: { base: string; remote: string }
): MainAreaWidget<BoxPanel> {
  const frame = new IFrame({
    sandbox: ['allow-scripts', 'allow-same-origin'],
    referrerPolicy: 'same-origin'
  });
  frame.url = compareUrl(base, remote);
  frame.addClass('jp-mvdp-compare');
  const content = new BoxPanel({ direction: 'top-to-bottom', spacing: 0 });
  const header = sidesHeader(
    labels ?? {
      base: PathExt.basename(base, '.ipynb'),
      remote: PathExt.basename(remote, '.ipynb')
    }
  );
  content.addWidget(header);
  content.addWidget(frame);
  BoxPanel.setStretch(header, 0);
  BoxPanel.setStretch(frame, 1);
  header.node.style.flex = '0 0 auto';
  const widget = new MainAreaWidget({ content });
  const name = (path: string) => PathExt.basename(path, '.ipynb');
  widget.id = `jp-mvdp-compare-${name(base)}-${name(remote)}`;
  widget.title.label = `Compare ${name(base)} ↔ ${name(remote)}`;
  widget.title.caption = `nbdime diff of ${base} and ${remote}`;
  widget.title.icon = icon;
  widget.title.closable = true;
  return widget;
}
