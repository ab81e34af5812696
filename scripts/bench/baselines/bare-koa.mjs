// A bare Koa endpoint: reads and parses the JSON body as the server does, answers a constant tensor-shaped reply.
import Koa from 'koa';
import getRawBody from 'raw-body';

const reply = JSON.stringify({ outputs: { output: [[0.125, -0.25, 0.5, 1]] } });
const app = new Koa();
app.use(async (ctx) => {
  const raw = await getRawBody(ctx.req, { limit: '1mb', length: ctx.request.length });
  JSON.parse(raw.toString('utf8'));
  ctx.type = 'application/json';
  ctx.body = reply;
});
const server = app.listen(0, '127.0.0.1', () => console.log(`LISTENING http://127.0.0.1:${server.address().port}`));
server.keepAliveTimeout = 65_000;
