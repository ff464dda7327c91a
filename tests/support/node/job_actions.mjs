// Node's BullMQ moving one job, as Bull Board or a Node service would, for the live-view and
// retry interop tests. Usage: node job_actions.mjs <command> '<JSON arguments>'; prints one
// JSON answer on stdout.
//   remove  {url, prefix, queue, id}   Job.remove(): true when the job was there
//   retry   {url, prefix, queue, id, state}   Job.retry(state, default "failed"): true when
//                                             the job was there
import { Job, Queue } from "bullmq";
import IORedis from "ioredis";

const [command, raw] = process.argv.slice(2);
const args = JSON.parse(raw);
const connection = new IORedis(args.url, { maxRetriesPerRequest: null });
const queue = new Queue(args.queue, { connection, prefix: args.prefix });

async function run() {
  const job = await Job.fromId(queue, args.id);
  if (!job) return false;
  if (command === "remove") await job.remove();
  else if (command === "retry") await job.retry(args.state ?? "failed");
  else throw new Error(`unknown command ${command}`);
  return true;
}

try {
  console.log(JSON.stringify(await run()));
} finally {
  await queue.close();
  connection.disconnect();
}
