// htm bound to Preact's h: tagged templates instead of JSX, so the sources need no JSX compiler.
// Interpolated values become text nodes or attributes, which Preact escapes: nothing from the
// server reaches the page as HTML.
import { h, type VNode } from 'preact';
import htm from 'htm';

export const html = htm.bind<VNode>(h);
