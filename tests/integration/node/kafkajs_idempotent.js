// kafkajs idempotent producer against sluiced. kafkajs asks the controller named by Metadata for
// a producer id (InitProducerId), then numbers its batches per partition. Two producers in turn
// (two ids) send keyed records to several partitions with acks=all; the script prints one JSON
// line of what the broker acknowledged. test_kafkajs_idempotence.py reads the records back with
// kcat and checks the batches' producer ids and sequences in the partition files.
'use strict'
const { Kafka, logLevel } = require('kafkajs')

const port = process.argv[2]
const topic = process.argv[3]
const partitions = Number(process.argv[4])
const perPartition = Number(process.argv[5])
const kafka = new Kafka({
  clientId: 'sluice-kafkajs-idempotent',
  brokers: [`127.0.0.1:${port}`],
  logLevel: logLevel.WARN,
  retry: { retries: 5 }
})

// One idempotent producer sends `count` records per partition, `rounds` sends of mixed
// partitions; returns the acknowledged (partition, baseOffset) of every send.
async function run (name, count, rounds) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const acks = []
  const per = count / rounds
  for (let r = 0; r < rounds; r++) {
    const messages = []
    for (let i = r * per; i < (r + 1) * per; i++) {
      for (let p = 0; p < partitions; p++) {
        messages.push({ partition: p, key: `${name}-${p}`, value: `${name}:${p}:${i}` })
      }
    }
    const res = await producer.send({ topic, acks: -1, messages })
    for (const x of res) acks.push({ partition: x.partition, errorCode: x.errorCode, baseOffset: x.baseOffset })
  }
  await producer.disconnect()
  return acks
}

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] })
  const controller = (await admin.describeCluster()).controller
  await admin.disconnect()
  const out = { controller }
  out.a = await run('a', perPartition, 5)
  out.b = await run('b', perPartition, 2)
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
