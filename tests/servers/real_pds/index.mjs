// A local AT Protocol network for tests/test_integration_bluesky.py: a PLC directory (@did-plc/server, in memory)
// and the Bluesky reference PDS (@atproto/pds, SQLite and blobs in a folder), both on 127.0.0.1, ephemeral ports.
// No crawler, no app view, no email, no rate limits: nothing leaves the machine.
//
// Run with the Node 22 from the install folder (install.sh):
//   BEFFROI_PDS_HOME=<install folder> BEFFROI_PDS_DATA=<empty folder> node index.mjs
// Prints one JSON line {"pds": url, "plc": url, "admin_password": ...} once both answer, then serves until
// stdin closes or it receives SIGTERM / SIGINT.
import { once } from 'node:events'
import crypto from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const home = process.env.BEFFROI_PDS_HOME
const data = process.env.BEFFROI_PDS_DATA
if (!home || !data) {
  console.error('set BEFFROI_PDS_HOME (install folder) and BEFFROI_PDS_DATA (an empty folder)')
  process.exit(2)
}
const require = createRequire(path.join(home, 'package.json'))
const load = async (name) => import(pathToFileURL(require.resolve(name)).href)

const HOST = '127.0.0.1'

const freePort = async () => {
  const probe = net.createServer()
  probe.listen(0, HOST)
  await once(probe, 'listening')
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  return port
}

const main = async () => {
  const plcLib = require('@did-plc/server')
  const plc = plcLib.PlcServer.create({ db: plcLib.Database.mock(), port: 0 })
  const plcServer = plc.app.listen(0, HOST)
  await once(plcServer, 'listening')
  const plcUrl = `http://${HOST}:${plcServer.address().port}`

  const { PDS, envToCfg, envToSecrets, readEnv } = await load('@atproto/pds')
  const { Secp256k1Keypair } = await load('@atproto/crypto')
  const rotationKey = await Secp256k1Keypair.create({ exportable: true })
  const port = await freePort()
  const adminPassword = crypto.randomBytes(12).toString('hex')
  fs.mkdirSync(path.join(data, 'blobs'), { recursive: true })
  Object.assign(process.env, {
    PDS_HOSTNAME: 'localhost', // public URL http://localhost:<port>, handles under .test
    PDS_PORT: String(port),
    PDS_DATA_DIRECTORY: data,
    PDS_BLOBSTORE_DISK_LOCATION: path.join(data, 'blobs'),
    PDS_JWT_SECRET: crypto.randomBytes(16).toString('hex'),
    PDS_ADMIN_PASSWORD: adminPassword,
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: Buffer.from(await rotationKey.export()).toString('hex'),
    PDS_DID_PLC_URL: plcUrl,
    PDS_INVITE_REQUIRED: 'false',
    PDS_CRAWLERS: '',
    PDS_RATE_LIMITS_ENABLED: 'false',
    PDS_DEV_MODE: 'true',
    PDS_DISABLE_SSRF_PROTECTION: 'true',
    LOG_ENABLED: process.env.LOG_ENABLED ?? 'false',
  })
  for (const name of ['PDS_BSKY_APP_VIEW_URL', 'PDS_BSKY_APP_VIEW_DID', 'PDS_MOD_SERVICE_URL', 'PDS_MOD_SERVICE_DID',
    'PDS_REPORT_SERVICE_URL', 'PDS_REPORT_SERVICE_DID', 'PDS_EMAIL_SMTP_URL', 'PDS_EMAIL_FROM_ADDRESS']) {
    delete process.env[name]
  }
  const env = readEnv()
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  // What pds.start() does, but listening on 127.0.0.1 only.
  await pds.ctx.sequencer.start()
  const server = pds.app.listen(port, HOST)
  pds.server = server
  await once(server, 'listening')

  const stop = async () => {
    try {
      server.close()
      plcServer.close()
      await pds.ctx.destroy()
    } finally {
      process.exit(0)
    }
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop) // the test process went away
  process.stdin.resume()
  process.stdout.write(JSON.stringify({ pds: `http://${HOST}:${port}`, plc: plcUrl, admin_password: adminPassword,
    pds_version: require('@atproto/pds/package.json').version, node_version: process.version }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
