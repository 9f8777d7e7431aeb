/**
 * Output notebooks: a run's output says so in `metadata.mvdp` (runtime.provenance: run,
 * point, input notebook), wherever the outputs folder is. Such a notebook is what ran, so
 * the panel does not offer to productionize it, and it opens without starting a kernel (a
 * kernel started by hand stops when its tab closes).
 */
import type { IDocumentManager } from '@jupyterlab/docmanager';

export interface IOutputProvenance {
  run_id: string;
  point_id: string;
  /** The input notebook, relative to the server root. */
  input: string | null;
}

/** The provenance an output notebook carries in `metadata.mvdp`, or null for any other notebook. */
export function outputProvenance(meta: unknown): IOutputProvenance | null {
  if (!meta || typeof meta !== 'object') {
    return null;
  }
  const m = meta as { [key: string]: unknown };
  if (typeof m.run_id !== 'string' || typeof m.point_id !== 'string') {
    return null;
  }
  return {
    run_id: m.run_id,
    point_id: m.point_id,
    input: typeof m.input === 'string' ? m.input : null
  };
}

/** The kernel preference of an output notebook: no kernel at open, none left behind. */
export const OUTPUT_KERNEL_PREFERENCE = {
  shouldStart: false,
  autoStartDefault: false,
  shutdownOnDispose: true
};

/** Open an output notebook (or reveal it) without starting a kernel. */
export function openOutput(docManager: IDocumentManager, path: string): void {
  docManager.openOrReveal(
    path,
    'default',
    undefined,
    {},
    OUTPUT_KERNEL_PREFERENCE
  );
}
