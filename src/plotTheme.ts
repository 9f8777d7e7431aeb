/**
 * The plot in the lab's theme: Vega-Lite's `config` built from JupyterLab's CSS variables
 * (text, grid, domain; no background of its own), so the dark theme has no white box.
 */
import * as React from 'react';

export interface IThemeColors {
  text: string;
  muted: string;
  grid: string;
  font: string;
}

/** Vega-Lite config for these colours (pure, unit tested). */
export function vegaThemeConfig(colors: IThemeColors): any {
  const axis = {
    domainColor: colors.muted,
    gridColor: colors.grid,
    tickColor: colors.muted,
    labelColor: colors.text,
    titleColor: colors.text,
    labelFont: colors.font,
    titleFont: colors.font
  };
  return {
    background: null,
    view: { stroke: colors.grid },
    axis,
    legend: {
      labelColor: colors.text,
      titleColor: colors.text,
      labelFont: colors.font,
      titleFont: colors.font
    },
    title: { color: colors.text, font: colors.font }
  };
}

/** A spec drawn in these colours. */
export function themedSpec(spec: any, colors: IThemeColors): any {
  return { ...spec, config: { ...spec.config, ...vegaThemeConfig(colors) } };
}

function readColors(): IThemeColors {
  const style = getComputedStyle(document.body);
  const read = (name: string, fallback: string) =>
    style.getPropertyValue(name).trim() || fallback;
  return {
    text: read('--jp-ui-font-color1', '#000'),
    muted: read('--jp-ui-font-color2', '#666'),
    grid: read('--jp-border-color2', '#e0e0e0'),
    font: read('--jp-ui-font-family', 'sans-serif')
  };
}

/** The theme's colours, read again when the lab switches theme. */
export function useThemeColors(): IThemeColors {
  const [colors, setColors] = React.useState(readColors);
  React.useEffect(() => {
    const observer = new MutationObserver(() => setColors(readColors()));
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    return () => observer.disconnect();
  }, []);
  return colors;
}
