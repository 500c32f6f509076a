/** A port on 127.0.0.1 that was free a moment ago: the kernel picked it for a listener we closed. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}
