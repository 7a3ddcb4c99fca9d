// DescribeGroups (or ConsumerGroupDescribe, which librdkafka 2.15 tries first) from the admin
// client of @confluentinc/kafka-javascript, asking for the authorized operations. Driven by
// test_kip848.py:
//
//   node describe_groups.js <bootstrap> <group>...
//
// Prints one JSON line: group id -> {state, protocolType, members, authorizedOperations, error},
// or FAIL: ... and exits 1.
'use strict';

const Kafka = require('@confluentinc/kafka-javascript');

const [bootstrap, ...groups] = process.argv.slice(2);
const admin = Kafka.AdminClient.create({'bootstrap.servers': bootstrap});
const timer = setTimeout(() => {
  console.log('FAIL: no answer within 60 s');
  process.exit(1);
}, 60000);
admin.describeGroups(groups, {includeAuthorizedOperations: true, timeout: 30000}, (err, res) => {
  clearTimeout(timer);
  if (err) {
    console.log('FAIL: ' + err.message);
    process.exit(1);
  }
  const out = {};
  for (const g of (res.groups || res)) {
    out[g.groupId] = {
      state: g.state,
      protocolType: g.protocolType,
      members: (g.members || []).length,
      authorizedOperations: (g.authorizedOperations || []).slice().sort((a, b) => a - b),
      error: g.error ? g.error.message : null,
    };
  }
  console.log(JSON.stringify(out));
  admin.disconnect();
});
