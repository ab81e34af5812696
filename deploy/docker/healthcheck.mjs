// The image's HEALTHCHECK (the image has no curl): exit 0 when /ping answers 2xx, else 1.
// It asks the inference listener the server was configured with (MS_INFERENCE_ADDRESS or TS_INFERENCE_ADDRESS,
// else the image's default port), on the container's loopback when that listener is bound to every interface.
const configured = process.env.MS_INFERENCE_ADDRESS ?? process.env.TS_INFERENCE_ADDRESS ?? 'http://127.0.0.1:8080';
const url = new URL('/ping', configured);
if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
if (url.protocol === 'https:') process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // a self-signed certificate still says "alive"
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2500) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
