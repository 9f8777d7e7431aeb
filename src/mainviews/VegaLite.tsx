/** A Vega-Lite spec drawn by JupyterLab's own renderer (nothing when it is not installed). */
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import * as React from 'react';

const VEGALITE = 'application/vnd.vegalite.v5+json';
const EMBED_OPTIONS = { renderer: 'svg', actions: false };

export function VegaLite(props: {
  rendermime: IRenderMimeRegistry;
  spec: any;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const key = JSON.stringify(props.spec);
  React.useEffect(() => {
    const host = ref.current;
    if (!host || !props.rendermime.mimeTypes.includes(VEGALITE)) {
      return;
    }
    const renderer = props.rendermime.createRenderer(VEGALITE);
    host.appendChild(renderer.node);
    // SVG: crisp at any zoom, and its marks and labels are in the page
    void renderer.renderModel(
      new MimeModel({
        data: { [VEGALITE]: props.spec },
        metadata: { [VEGALITE]: { embed_options: EMBED_OPTIONS } }
      })
    );
    return () => {
      renderer.dispose();
      host.innerHTML = '';
    };
  }, [key]);
  return (
    <div className="jp-mvdp-vega" ref={ref} aria-label="plot of the metric" />
  );
}
