// How a tag's or image's kind reads in a table cell: platforms of an image or index, or the
// artifact type of an artifact (a signature, an SBOM).
import type { TagSummary } from './api-types.js';
import { html } from './html.js';
import { isRunnable, platformName, type PlatformLike } from './format.js';

const SHOWN = 3;

/** Config media types of images: the artifactType an image reports is one of these (image-spec). */
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** An artifact (a signature, an SBOM ...) rather than an image or index. */
export function isArtifact(artifactType: string | null | undefined): artifactType is string {
  return !!artifactType && !IMAGE_CONFIG_TYPES.has(artifactType);
}

export function Platforms({ platforms, artifactType }: { platforms: PlatformLike[]; artifactType?: string | null }) {
  if (isArtifact(artifactType)) return html`<span class="chip artifact" title=${artifactType}>${artifactLabel(artifactType)}</span>`;
  const runnable = platforms.filter(isRunnable);
  if (runnable.length === 0) return html`<span class="muted">—</span>`;
  const names = runnable.map(platformName);
  return html`<span class="chips" title=${names.join(', ')}>
    ${names.slice(0, SHOWN).map((n) => html`<span class="chip">${n}</span>`)}
    ${names.length > SHOWN ? html`<span class="chip chip-more">+${names.length - SHOWN}</span>` : null}
  </span>`;
}

const KNOWN_ARTIFACTS: Array<[RegExp, string]> = [
  [/cosign.*sig|\.sig\b|signature/i, 'signature'],
  [/notary|notation/i, 'signature (Notation)'],
  [/spdx/i, 'SBOM (SPDX)'],
  [/cyclonedx/i, 'SBOM (CycloneDX)'],
  [/in-toto|intoto|attestation|provenance|slsa/i, 'attestation'],
  [/helm/i, 'Helm chart'],
  [/wasm/i, 'WebAssembly'],
];

/** A short human name for an artifact type (the full media type goes in a title). */
export function artifactLabel(artifactType: string): string {
  for (const [pattern, label] of KNOWN_ARTIFACTS) if (pattern.test(artifactType)) return label;
  return artifactType.replace(/^application\//, '');
}

export function kindOf(t: Pick<TagSummary, 'mediaType' | 'artifactType'>): string {
  if (isArtifact(t.artifactType)) return artifactLabel(t.artifactType);
  if (/index|manifest\.list/.test(t.mediaType)) return 'index';
  return 'image';
}
