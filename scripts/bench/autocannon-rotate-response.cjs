// autocannon worker module: `onResponse` for rotating refresh (autocannon takes one function per file).
module.exports = require('./autocannon-rotate.cjs').onResponse;
