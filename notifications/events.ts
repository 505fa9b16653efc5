// The webhook event, in Distribution's envelope (docs: notifications): what happened to which
// repository, at whose request, seen by which registry instance.

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export interface EventTarget {
  mediaType?: string;
  size?: number;
  length?: number;
  digest?: string;
  repository: string;
  url?: string;
  tag?: string;
  fromRepository?: string;
}

/** The request an event came from, as the HTTP layer saw it. */
export interface EventRequest {
  id: string;
  addr: string;
  host: string;
  method: string;
  useragent: string;
}

export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: 'push' | 'pull' | 'delete' | 'mount';
  target: EventTarget;
  request: EventRequest;
  actor: { name?: string };
  source: { addr: string; instanceID: string };
}
