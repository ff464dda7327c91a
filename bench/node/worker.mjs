// A no-op BullMQ worker: the Node reference for bench/jobs_throughput.py (same Redis, same jobs).
import { Worker } from "bullmq";
import IORedis from "ioredis";

const [url, queue, concurrency, prefix] = process.argv.slice(2);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const worker = new Worker(queue, async () => null, { connection, prefix, concurrency: Number(concurrency) });
await worker.waitUntilReady();
console.log("ready");
process.on("SIGTERM", async () => { await worker.close(); process.exit(0); });
