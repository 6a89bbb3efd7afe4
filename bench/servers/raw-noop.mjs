// The floor: node:http answering 200 with an empty body, nothing else.
import { createServer } from "node:http";

createServer((_request, response) => {
  response.writeHead(200, { "content-length": "0" });
  response.end();
}).listen(Number(process.env.PORT), "127.0.0.1");
