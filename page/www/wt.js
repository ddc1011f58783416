// Built from page/src/wt.js by page/test/tools/build.mjs: edit the source.
const TIME_TAG=116
const BRACE=123
const REQUEST_LEN=13
const REPLY_LEN=21
export const CONNECT_TIMEOUT_MS=4e3
export function hexBytes(hex){const out=new Uint8Array(hex.length>>1)
for(let i=0;i<out.length;i++)out[i]=parseInt(hex.slice(2*i,2*i+2),16)
return out}export function timeRequest(id,clientMs){const b=new Uint8Array(REQUEST_LEN)
const v=new DataView(b.buffer)
b[0]=TIME_TAG
v.setUint32(1,id>>>0)
v.setFloat64(5,clientMs)
return b}export function parseDatagram(d,decoder=new TextDecoder){if(!d||!d.length)return null
if(d[0]===BRACE){try{return{state:JSON.parse(decoder.decode(d))}}catch{return null}}if(d[0]===TIME_TAG&&d.length===REPLY_LEN){const v=new DataView(d.buffer,d.byteOffset,d.byteLength)
return{id:v.getUint32(1),us:Number(v.getBigUint64(13))}}return null}export function transportOptions(info){const hashes=Array.isArray(info.hashes)?info.hashes.filter(h=>/^[0-9a-f]{64}$/.test(h)):[]
return hashes.length?{serverCertificateHashes:hashes.map(h=>({algorithm:"sha-256",value:hexBytes(h)}))}:{}}export async function openSession(onState,timeoutMs=CONNECT_TIMEOUT_MS){const res=await fetch("/wt",{cache:"no-store"})
if(!res.ok)throw new Error(`/wt answered ${res.status}`)
const info=await res.json()
if(typeof info.url!=="string"||!info.url.startsWith("https://"))throw new Error("bad /wt document")
const wt=new WebTransport(info.url,transportOptions(info))
let timer
try{await Promise.race([wt.ready,new Promise((_,reject)=>{timer=setTimeout(()=>reject(new Error("WebTransport timeout")),timeoutMs)})])}catch(e){try{wt.close()}catch{}wt.closed.catch(()=>{})
throw e}finally{clearTimeout(timer)}return new Session(wt,onState)}class Session{constructor(wt,onState){this.wt=wt
this.open=true
this.pending=new Map
this.nextId=1
this.writer=wt.datagrams.writable.getWriter()
this.closed=wt.closed.then(()=>{},()=>{}).then(()=>this.handleClosed())
this.readLoop(onState)}async readLoop(onState){const reader=this.wt.datagrams.readable.getReader()
const decoder=new TextDecoder
try{for(;;){const{value,done}=await reader.read()
if(done)break
const m=parseDatagram(value,decoder)
if(m&&m.state)onState(m.state)
else if(m){const p=this.pending.get(m.id)
if(p)p.resolve(m.us)}}}catch{}this.close()}handleClosed(){this.open=false
for(const p of this.pending.values())p.reject(new Error("closed"))
this.pending.clear()}time(timeoutMs=3e3){const id=this.nextId++>>>0
return new Promise((resolve,reject)=>{if(!this.open)return reject(new Error("closed"))
const done=f=>x=>{clearTimeout(timer)
this.pending.delete(id)
f(x)}
const timer=setTimeout(done(reject),timeoutMs,new Error("lost"))
this.pending.set(id,{resolve:done(resolve),reject:done(reject)})
this.writer.write(timeRequest(id,performance.now())).catch(done(reject))})}close(){if(!this.open)return
this.open=false
try{this.wt.close()}catch{}}}
