import { LabIcon } from '@jupyterlab/ui-components';

/** Three linked nodes; `jp-icon3` makes fill and stroke follow the theme's icon colour. */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="none" stroke="#616161" stroke-width="1.8" d="M5 12 16 5M5 12l11 7M16 5v14"/>
  <circle class="jp-icon3" fill="#616161" cx="5" cy="12" r="3.2"/>
  <circle class="jp-icon3" fill="#616161" cx="16" cy="5" r="3.2"/>
  <circle class="jp-icon3" fill="#616161" cx="16" cy="19" r="3.2"/>
</svg>`;

export const nodespaceIcon = new LabIcon({ name: 'nodespace-lab:icon', svgstr });
