// The consumer matrix's Node.js probe: one process, many requests read from stdin, one a line
// (fields separated by tabs; passwords come on stdin only and are never printed):
//
//   ca TAB URL TAB CAFILE                         GET trusting CAFILE (tls option `ca`)
//   pem TAB URL TAB CAFILE TAB CERT TAB KEY       ... presenting CERT and KEY (`cert`, `key`)
//   pfx TAB URL TAB CAFILE TAB PFX TAB PASSWORD   ... presenting a PKCS#12 (`pfx`, `passphrase`)
//
// One answer a line, in order: OK TAB URL TAB HTTP <status>, or FAIL TAB URL TAB <error>.
"use strict";
const fs = require("fs");
const https = require("https");

function get(fields) {
  const [mode, url, cafile] = fields;
  const options = { ca: fs.readFileSync(cafile), agent: false, timeout: 15000 };
  if (mode === "pem") {
    options.cert = fs.readFileSync(fields[3]);
    options.key = fs.readFileSync(fields[4]);
  } else if (mode === "pfx") {
    options.pfx = fs.readFileSync(fields[3]);
    options.passphrase = fields[4];
  } else if (mode !== "ca") {
    throw new Error("bad request: " + mode);
  }
  return new Promise((resolve) => {
    const request = https.get(url, options, (response) => {
      response.resume();
      response.on("end", () =>
        resolve((response.statusCode === 200 ? "OK" : "FAIL") + "\t" + url + "\tHTTP " + response.statusCode));
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", (error) => resolve("FAIL\t" + url + "\t" + (error.code || "") + " " + error.message));
  });
}

async function main() {
  const lines = fs.readFileSync(0, "utf8").split("\n").filter((line) => line);
  for (const line of lines) {
    let answer;
    try {
      answer = await get(line.split("\t"));
    } catch (error) {
      answer = "FAIL\t" + line.split("\t")[1] + "\t" + error.message.replace(/\s+/g, " ");
    }
    console.log(answer);
  }
}

main();
