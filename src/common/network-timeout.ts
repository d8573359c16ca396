// burp's network_timeout as gRPC keepalive, one rule for both sides (node.conf and server.conf): a ping
// every half of it, and the other half for its answer, so a silent peer is given up within network_timeout.

export interface NetworkTimeoutPings {
  readonly 'grpc.keepalive_time_ms': number;
  readonly 'grpc.keepalive_timeout_ms': number;
}

export function networkTimeoutPings(networkTimeoutSeconds: number): NetworkTimeoutPings {
  const halfMilliseconds = networkTimeoutSeconds * 500;
  return { 'grpc.keepalive_time_ms': halfMilliseconds, 'grpc.keepalive_timeout_ms': halfMilliseconds };
}
