// Built from page/src/poll.js by page/test/tools/build.mjs: edit the source.
export const DEFAULT_POLL_MS=1e3
export const MIN_POLL_MS=250
export const MAX_POLL_MS=3e4
export const BACKOFF_BASE_MS=500
export const BACKOFF_CAP_MS=8e3
export const POLL_TIMEOUT_MS=4e3
export const LONG_POLL_TIMEOUT_MS=35e3
export const MIN_HOLD_MS=1e3
export const MAX_QUICK_ANSWERS=3
export const REPARK_SPREAD_MS=500
export const RIDE_SPREAD_MS=1e3
export function rideDelayMs(changed,rand){return changed?RIDE_SPREAD_MS*rand():0}export function jitteredPollMs(pollMs,rand){let p=Number(pollMs)
if(!Number.isFinite(p)||p<=0)p=DEFAULT_POLL_MS
p=Math.min(MAX_POLL_MS,Math.max(MIN_POLL_MS,p))
return p*(.8+.4*rand())}export function backoffMs(failures,rand){const ceiling=Math.min(BACKOFF_CAP_MS,BACKOFF_BASE_MS*2**Math.max(0,Math.min(failures-1,20)))
return Math.max(50,ceiling*rand())}const STATES=["stopped","standby","running","hold","blackout"]
export function parseState(body){if(!body||typeof body!=="object"||!STATES.includes(body.state))return null
const num=x=>typeof x==="number"&&Number.isFinite(x)?x:null
const str=x=>typeof x==="string"?x:null
return{state:body.state,cue:str(body.cue),at:num(body.at),held:num(body.held),next:str(body.next),poll:num(body.poll),show:str(body.show),v:Number.isSafeInteger(body.v)&&body.v>=0?body.v:null}}export class Poller{constructor(){this.etag=null
this.state=null
this.failures=0
this.showUrl=null
this.pendingShow=null
this.lastOkMs=NaN
this.sentMs=NaN
this.changed=false
this.heldMs=0
this.quick=0}get version(){return this.state?this.state.v:null}longPoll(plain=false){return!plain&&this.failures===0&&this.version!==null}url(plain=false){return this.longPoll(plain)?`/s?after=${this.version}`:"/s"}timeoutMs(plain=false){return this.longPoll(plain)?LONG_POLL_TIMEOUT_MS:POLL_TIMEOUT_MS}headers(){return this.etag?{"If-None-Match":this.etag}:{}}handleSent(nowMs){this.sentMs=nowMs}handleOk(nowMs,body,etag){const s=parseState(body)
if(!s){this.handleError(nowMs)
return false}const old=this.state
this.changed=!old||old.v===null||s.v!==old.v||etag!==this.etag
this.state=s
this.etag=etag||null
this.answered(nowMs)
if(s.show&&s.show!==this.showUrl){this.showUrl=s.show
this.pendingShow=s.show}return true}handleNotModified(nowMs){if(!this.state)return this.handleError(nowMs)
this.changed=false
this.answered(nowMs)}answered(nowMs){this.failures=0
this.lastOkMs=nowMs
this.heldMs=Number.isFinite(this.sentMs)?nowMs-this.sentMs:0
this.quick=this.heldMs<MIN_HOLD_MS?this.quick+1:0}handleError(_nowMs){this.failures++
if(!this.state)this.etag=null}takeNewShow(){const u=this.pendingShow
this.pendingShow=null
return u}nextDelayMs(rand){if(this.failures>0)return backoffMs(this.failures,rand)
if(this.longPoll()&&(this.heldMs>=MIN_HOLD_MS||this.changed&&this.quick<MAX_QUICK_ANSWERS)){return this.changed?REPARK_SPREAD_MS*rand():0}return jitteredPollMs(this.state?.poll,rand)}}
