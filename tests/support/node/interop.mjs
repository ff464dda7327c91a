// Node's BullMQ (the client Bull Board 9 uses) on our Redis, for the interop tests.
// Usage: node interop.mjs <command> '<JSON arguments>'; prints one JSON answer on stdout.
//   flow     {url, prefix, flow}           FlowProducer.add(flow): the ids of the tree it made
//   workers  {url, prefix, queues}         per queue, Queue.getWorkers(): the connections it
//                                          takes for workers
//   metrics  {url, prefix, queue, types}   per type, Queue.getMetrics(type)
import { FlowProducer, Queue } from "bullmq";
import IORedis from "ioredis";

const [command, raw] = process.argv.slice(2);
const args = JSON.parse(raw);
const connection = new IORedis(args.url, { maxRetriesPerRequest: null });

function tree(node) {
  return {
    queue: node.job.queueName,
    id: node.job.id,
    children: (node.children ?? []).map(tree),
  };
}

async function run() {
  if (command === "flow") {
    const producer = new FlowProducer({ connection, prefix: args.prefix });
    try {
      return tree(await producer.add(args.flow));
    } finally {
      await producer.close();
    }
  }
  if (command === "workers") {
    const answer = {};
    for (const name of args.queues) {
      answer[name] = await withQueue(name, (queue) => queue.getWorkers());
    }
    return answer;
  }
  if (command === "metrics") {
    return withQueue(args.queue, async (queue) => {
      const answer = {};
      for (const type of args.types) answer[type] = await queue.getMetrics(type);
      return answer;
    });
  }
  throw new Error(`unknown command ${command}`);
}

async function withQueue(name, use) {
  const queue = new Queue(name, { connection, prefix: args.prefix });
  try {
    return await use(queue);
  } finally {
    await queue.close();
  }
}

try {
  console.log(JSON.stringify(await run()));
} finally {
  connection.disconnect();
}
