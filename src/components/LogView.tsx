/**
 * A worker's log as JupyterLab shows a stream output: its ANSI colours rendered by
 * rendermime's own `renderText` (sanitized, links made clickable), in a box of its own that
 * scrolls both ways so a long or wide log never pushes the run view's columns.
 */
import { Sanitizer } from '@jupyterlab/apputils';
import { renderText } from '@jupyterlab/rendermime';
import * as React from 'react';

const sanitizer = new Sanitizer();

export function LogView(props: { text: string; label?: string }): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const host = ref.current;
    if (!host) {
      return;
    }
    host.textContent = '';
    void renderText({ host, sanitizer, source: props.text });
  }, [props.text]);
  return (
    <div
      className="jp-mvdp-log jp-RenderedText"
      data-mime-type="application/vnd.jupyter.stderr"
      ref={ref}
      role="log"
      tabIndex={0}
      aria-label={props.label ?? 'worker log'}
    />
  );
}
