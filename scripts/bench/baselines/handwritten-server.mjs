// The smallest honest image-classification server a user could write by hand: node:http + piscina (2 workers ×
// 1 onnxruntime thread) + sharp, one image per run. Usage: node handwritten-server.mjs model.onnx [workers]
import http from 'node:http';
import { Piscina } from 'piscina';

const workers = Number(process.argv[3] ?? 2);
const pool = new Piscina({
  filename: new URL('./handwritten-worker.mjs', import.meta.url).href,
  minThreads: workers,
  maxThreads: workers,
  workerData: { model: process.argv[2] },
});

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  try {
    const top5 = await pool.run(Buffer.concat(chunks));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(top5));
  } catch (err) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: String(err?.message ?? err) }));
  }
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`LISTENING http://127.0.0.1:${server.address().port}`));
