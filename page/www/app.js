// Built from page/src/app.js by page/test/tools/build.mjs: edit the source.
import{ClockSync,Schedule,makeSample,burstGapMs,burstSettled,burstMin,resyncBurst,budgetFor}from"./sync.js"
import{Poller,POLL_TIMEOUT_MS,LONG_POLL_TIMEOUT_MS,rideDelayMs}from"./poll.js"
import{colourAt,validateShow,cueIndex,torchAt,usesTorch}from"./show.js"
import{FlashLimiter}from"./safety.js"
const $=id=>document.getElementById(id)
const now=()=>performance.now()
const rand=Math.random
const sleep=ms=>new Promise(r=>setTimeout(r,ms))
const XFADE_MS=300
const IDLE=[8,10,28]
const BLACK=[0,0,0]
const sync=new ClockSync
const poller=new Poller
const q=new URLSearchParams(location.search)
let show=null
let showUrl=null
let zone=-1
let joined=false
let limiter=new FlashLimiter({reducedMotion:reducedMotion()})
let shown=null
let scene=""
let fadeFrom=null
let fadeStart=0
let lastFrameTs=NaN
let frameMs=16.7
const frames=[]
const stats={syncs:0,polls:0,longPolls:0,parked:false,pollErrors:0,showLoads:0,transport:"poll",wtPushes:0,wtFailures:0,returns:0,lastAwayMs:0,torch:"off"}
let live=null
let parseLive=null
const pendingLive=[]
let liveLoading=null
const LIVE_WARM_MS=5e3
let wt=null
function reducedMotion(){return!!(window.matchMedia&&matchMedia("(prefers-reduced-motion: reduce)").matches)}async function get(url,init={},timeoutMs=POLL_TIMEOUT_MS,ctl=(typeof AbortController==="function"?new AbortController:null)){const timer=ctl&&setTimeout(()=>ctl.abort(),timeoutMs)
try{return await fetch(url,{...init,signal:ctl?.signal})}finally{clearTimeout(timer)}}async function sampleOnce(burst){const t1=now()
try{let t
if(wt&&wt.open){t=await wt.time(3e3)}else{const res=await get("/t",{cache:"no-store"},3e3)
if(!res.ok)return
t=res}const t4=now()
if(t instanceof Response)t=(await t.json()).t
if(sync.handleSample(makeSample(t1,Number(t),t4,burst)))stats.syncs++}catch{}}async function burst(n,id){const pending=[]
for(let i=0;i<n&&!burstSettled(sync.samples,id,burstMin(1));i++){pending.push(sampleOnce(id))
await sleep(burstGapMs(rand))}await Promise.all(pending)}const schedule=new Schedule
let wakeSync=()=>{}
async function syncLoop(){for(;;){if(schedule.steady&&!wt&&poller.longPoll())await rideOrSend(schedule.burst)
else sampleOnce(schedule.burst)
const delay=schedule.handleSent(sync,rand)
await new Promise(r=>{const t=setTimeout(r,sync.synced?delay:Math.min(delay,2e3))
wakeSync=()=>{clearTimeout(t)
r()}})}}let ridingSample=null
async function rideOrSend(burstId){const rode=await new Promise(done=>{const timer=setTimeout(()=>{ridingSample=null
done(false)},LONG_POLL_TIMEOUT_MS)
ridingSample={burst:burstId,timer,done}})
if(!rode)sampleOnce(burstId)}async function sendRidingSample(){const ride=ridingSample
if(!ride)return
ridingSample=null
clearTimeout(ride.timer)
const wait=rideDelayMs(poller.changed,rand)
if(wait>0)await sleep(wait)
await sampleOnce(ride.burst)
ride.done(true)}async function pollLoop(){for(;;){const plain=!!wt||!!(returning&&!returning.fresh)
const long=poller.longPoll(plain)
stats.parked=long
const ctl=typeof AbortController==="function"?new AbortController:null
pollCtl=ctl
const asked=returning
try{poller.handleSent(now())
const res=await get(poller.url(plain),{headers:poller.headers(),cache:"no-store"},poller.timeoutMs(plain),ctl)
if(res.status===304)poller.handleNotModified(now())
else if(res.ok){const body=await res.json()
if(poller.handleOk(now(),body,res.headers.get("ETag")))handleLive(body)}else poller.handleError(now())
stats.polls++
if(long)stats.longPolls++
if(asked&&asked===returning&&plain&&poller.failures===0)returning.fresh=true}catch{if(ctl&&ctl.signal.aborted&&ctl.aborted){pollCtl=null
continue}poller.handleError(now())
stats.pollErrors++}pollCtl=null
stats.parked=false
takeShow()
setBudget()
if(!wt&&poller.failures===0)await sendRidingSample()
const delay=wt?WT_SAFETY_POLL_MS:poller.nextDelayMs(rand)
if(delay>0)await pollSleep(delay)}}function setBudget(){const s=poller.state
const c=show&&s&&s.cue&&["running","hold","standby"].includes(s.state)?cueIndex(show,s.cue):-1
const budget=budgetFor(show,c)
const tighter=budget<schedule.budgetMs
schedule.budgetMs=budget
if(tighter&&joined&&sync.synced&&sync.predictedErrorMs(now())>budget&&schedule.steady)resyncNow()}function resyncNow(){schedule.handleWake(resyncBurst(1))
if(ridingSample){const ride=ridingSample
ridingSample=null
clearTimeout(ride.timer)
ride.done(true)}wakeSync()}function takeShow(){const url=poller.takeNewShow()
if(url)loadShow(url)}const WT_SAFETY_POLL_MS=15e3
let wakePoll=()=>{}
function pollSleep(ms){return new Promise(r=>{const t=setTimeout(r,ms)
wakePoll=()=>{clearTimeout(t)
r()}})}function handlePush(body){stats.wtPushes++
if(poller.handleOk(now(),body,null)){handleLive(body)
takeShow()}}async function wtLoop(){if(location.protocol!=="https:"||!window.isSecureContext||typeof WebTransport!=="function")return
if(q.get("transport")==="poll")return
let mod
try{mod=await(import("./wt.js"))}catch{return}for(let failures=0;;failures++){try{wt=await mod.openSession(handlePush)
stats.transport="wt"
failures=0
burst(resyncBurst(1),2e3+stats.syncs)
const keepAlive=setInterval(()=>sampleOnce(3e3),1e4)
await wt.closed
clearInterval(keepAlive)}catch{}wt=null
stats.transport="poll"
stats.wtFailures++
wakePoll()
await sleep(Math.min(6e4,5e3*2**Math.min(failures,4))*(.75+.5*rand()))}}async function loadShow(url){try{const res=await get(url,{},15e3)
const s=await res.json()
const problem=validateShow(s)
if(problem)throw new Error(problem)
const oldZone=show&&zone>=0?show.zones[zone]:null
show=s
showUrl=url
stats.showLoads++
const keep=oldZone?s.zones.indexOf(oldZone):-1
zone=keep>=0?keep:pickZone(s)
setBudget()
renderJoin()}catch{if(poller.showUrl===url)poller.pendingShow=url}}function pickZone(s){const want=q.get("zone")
if(want!==null){const byName=s.zones.findIndex(z=>z.toLowerCase()===want.toLowerCase())
if(byName>=0)return byName
const n=Number(want)
if(Number.isInteger(n)&&n>=1&&n<=s.zones.length)return n-1}return zone>=0&&zone<s.zones.length?zone:0}function renderJoin(){if(!show)return
$("title").textContent=show.title
const box=$("zones")
box.hidden=show.zones.length<2
const list=$("zone-list")
list.textContent=""
show.zones.forEach((name,i)=>{const b=document.createElement("button")
b.type="button"
b.textContent=name.replace(/[-_]/g," ")
b.setAttribute("aria-pressed",String(i===zone))
b.onclick=()=>{zone=i
renderJoin()}
list.append(b)})}function join(){if(joined)return
joined=true
const el=document.documentElement
try{const fs=el.requestFullscreen||el.webkitRequestFullscreen
if(fs)Promise.resolve(fs.call(el,{navigationUI:"hide"})).catch(()=>{})}catch{}keepAwake()
startTorch()
setTimeout(loadLive,LIVE_WARM_MS)
if(show&&history.replaceState){q.set("zone",show.zones[zone])
try{history.replaceState(null,"",`?${q}`)}catch{}}document.body.classList.add("joined")}let torch=null
let torchTrack=null
async function startTorch(){if(!usesTorch(show))return
let mod
try{mod=await(import("./torch.js"))}catch{stats.torch="not here"
return}const{torchPossible,trackHasTorch,torchConstraints,TorchDriver}=mod
const possible=torchPossible({usesTorch:usesTorch(show),secure:window.isSecureContext===true,mediaDevices:navigator.mediaDevices,reducedMotion:limiter.reducedMotion})
if(!possible){stats.torch=usesTorch(show)?"not here":"off"
return}stats.torch="asking"
try{const stream=await navigator.mediaDevices.getUserMedia({video:{facingMode:{ideal:"environment"}},audio:false})
const track=stream.getVideoTracks()[0]
if(!track||!trackHasTorch(track)){for(const t of stream.getTracks())t.stop()
stats.torch="none"
return}torchTrack=track
torch=new TorchDriver(on=>track.applyConstraints(torchConstraints(on)))
track.addEventListener("ended",()=>{torch=null
torchTrack=null
stats.torch="ended"})
stats.torch="ready"}catch{stats.torch="refused"}}let wakeLock=null
async function keepAwake(){if(document.visibilityState==="hidden")return
if(navigator.wakeLock&&window.isSecureContext&&q.get("keepawake")!=="video"){try{wakeLock=await navigator.wakeLock.request("screen")
return}catch{}}startVideo()}function startVideo(){const v=$("keepawake")
if(!v.getAttribute("src"))v.src="keepawake.mp4"
v.muted=true
const p=v.play()
if(p&&p.catch)p.catch(()=>{})}const RETURN_HOLD_MS=800
const AWAY_GAP_MS=3e3
let returning=null
let hiddenAt=NaN
let pollCtl=null
function handleAway(){if(!Number.isFinite(hiddenAt))hiddenAt=now()
torch?.off()}function handleBack(){if(document.visibilityState==="hidden")return
const t=now()
const awayMs=Number.isFinite(hiddenAt)?t-hiddenAt:0
hiddenAt=NaN
if(returning&&!returning.fresh)return
returning={since:t,fresh:false,awayMs}
stats.returns++
stats.lastAwayMs=Math.round(awayMs)
if(!joined)return
keepAwake()
resyncNow()
if(pollCtl){pollCtl.aborted=true
pollCtl.abort()}wakePoll()}document.addEventListener("visibilitychange",()=>{if(document.visibilityState==="hidden")handleAway()
else handleBack()})
document.addEventListener("freeze",handleAway)
document.addEventListener("resume",handleBack)
window.addEventListener("pagehide",handleAway)
window.addEventListener("pageshow",e=>{if(e.persisted)handleBack()})
function loadLive(){liveLoading??=import("./live.js").then(m=>{parseLive=m.parseLive
live=new m.LiveLayers
for(const body of pendingLive.splice(0))live.handleLayer(parseLive(body))}).catch(()=>{liveLoading=null})
return liveLoading}function handleLive(body){if(!body||!Number.isSafeInteger(body.live_at))return
if(live){live.handleLayer(parseLive(body))
return}pendingLive.push(body)
if(pendingLive.length>4)pendingLive.shift()
loadLive()}function target(us){const t=cueTarget(us)
if(!joined||!sync.synced||!show||poller.state?.state==="blackout")return t
const rgb=live?live.colourAt(show.zones[zone],us,t.rgb):null
return rgb?{rgb,scene:t.scene,live:true,desk:true,torch:false}:t}function cueTarget(us){const s=poller.state
if(!joined||!s||!sync.synced)return{rgb:IDLE,scene:"idle",live:false}
if(s.state==="blackout")return{rgb:BLACK,scene:"blackout",live:true}
const c=show&&s.cue?cueIndex(show,s.cue):-1
if(c>=0&&s.state==="hold"&&s.held!==null){const t=s.held/1e3
return{rgb:colourAt(show,zone,c,t),scene:`hold:${s.cue}:${s.at}`,live:true,torch:torchAt(show,zone,c,t)}}if(c>=0&&s.state==="running"&&s.at!==null&&us>=s.at){const t=(us-s.at)/1e3
return{rgb:colourAt(show,zone,c,t),scene:`run:${s.cue}:${s.at}`,live:true,torch:torchAt(show,zone,c,t)}}return{rgb:IDLE,scene:s.state==="standby"||s.state==="running"?"ready":"idle",live:false}}function frame(ts){requestAnimationFrame(frame)
if(Number.isFinite(lastFrameTs)){const d=ts-lastFrameTs
if(d>4&&d<50)frameMs+=(d-frameMs)*.1
if(d>AWAY_GAP_MS&&!returning){hiddenAt=now()-d
handleBack()}}lastFrameTs=ts
if(returning&&!returning.fresh&&ts-returning.since<RETURN_HOLD_MS&&shown){const us=sync.synced?Math.round(sync.beaconUs(ts+frameMs)):NaN
frames.push({us,rgb:shown,want:shown,scene:"returning",fading:false,zone,held:true})
if(frames.length>600)frames.splice(0,frames.length-600)
return}if(returning){returning=null
if(shown){fadeFrom=shown
fadeStart=ts}}const local=ts+frameMs
const us=sync.synced?Math.round(sync.beaconUs(local)):NaN
const t=target(us)
if(t.scene!==scene){fadeFrom=shown
fadeStart=ts
scene=t.scene}let rgb=t.rgb
const k=(ts-fadeStart)/XFADE_MS
const fading=fadeFrom&&k<1
if(fading)rgb=rgb.map((x,i)=>Math.round(fadeFrom[i]+(x-fadeFrom[i])*k))
const out=limiter.handleFrame(ts,rgb)
if(torch)torch.handleFrame(ts,!!t.torch&&!fading)
if(!shown||out[0]!==shown[0]||out[1]!==shown[1]||out[2]!==shown[2]){$("stage").style.backgroundColor=`rgb(${out[0]},${out[1]},${out[2]})`}shown=out
const mode=joined?t.live?"live":t.scene:"join"
if(document.body.dataset.mode!==mode)document.body.dataset.mode=mode
frames.push({us,rgb:out,want:t.rgb,scene:t.scene,fading:!!fading,zone,desk:!!t.desk})
if(frames.length>600)frames.splice(0,frames.length-600)}if(window.matchMedia){const mq=matchMedia("(prefers-reduced-motion: reduce)")
mq.addEventListener?.("change",()=>{limiter=new FlashLimiter({reducedMotion:mq.matches})})}$("join").addEventListener("click",join)
syncLoop()
pollLoop()
wtLoop()
requestAnimationFrame(frame)
window.crowdlight=Object.freeze({offsetMs:()=>sync.synced?sync.offsetAt(now()):NaN,beaconNowUs:()=>sync.synced?sync.beaconUs(now()):NaN,syncInfo:()=>({synced:sync.synced,errorBoundMs:sync.errorBoundMs,levelErrMs:sync.levelErrMs,driftPpm:sync.driftPpm,driftUncPpm:sync.driftUncPpm,predictedErrorMs:sync.predictedErrorMs(now()),samples:sync.samples.length,steady:schedule.steady,budgetMs:schedule.budgetMs}),state:()=>({joined,zone,reducedMotion:limiter.reducedMotion,torchOn:!!torch?.on,torchCalls:torch?torch.calls:0,zoneName:show?show.zones[zone]:null,show:showUrl,...poller.state,failures:poller.failures,suppressed:limiter.suppressed,...stats}),colour:()=>shown&&shown.slice(),frames:()=>frames.map(f=>({...f}))})

