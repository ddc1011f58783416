// Built from page/src/sync.js by page/test/tools/build.mjs: edit the source.
export const MAX_SAMPLES=512
export const WINDOW_MS=30*60*1e3
export const MIN_DRIFT_SPAN_MS=10*60*1e3
export const MAX_DRIFT_PPM=100
export const MAX_RTT_MS=3e3
export function makeSample(t1,tUs,t4,burst=0){if(!Number.isFinite(t1)||!Number.isFinite(t4)||!Number.isFinite(tUs))return null
const rtt=t4-t1
if(rtt<0||rtt>MAX_RTT_MS)return null
const tMs=tUs/1e3
return{t1,t4,tMs,rtt,mid:(t1+t4)/2,offset:tMs-(t1+t4)/2,burst}}export class ClockSync{constructor(){this.samples=[]
this.driftPpm=0
this.driftSpanMs=0
this.refLocal=0
this.baseOffset=NaN
this.errorBoundMs=Infinity}get synced(){return Number.isFinite(this.baseOffset)}get converged(){return this.driftSpanMs>=MIN_DRIFT_SPAN_MS}handleSample(sample){if(!sample)return false
this.samples.push(sample)
const newest=sample.t4
this.samples=this.samples.filter(s=>newest-s.t4<=WINDOW_MS&&s.t4<=newest+1).slice(-MAX_SAMPLES)
this.estimate()
return true}offsetAt(localMs){return this.baseOffset+this.driftPpm*1e-6*(localMs-this.refLocal)}beaconUs(localMs){return(localMs+this.offsetAt(localMs))*1e3}estimate(){this.dropBeforeStep()
const s=this.samples
if(s.length===0)return
const newest=s[s.length-1]
this.refLocal=newest.mid
this.driftSpanMs=newest.mid-s[0].mid
if(this.driftSpanMs>=MIN_DRIFT_SPAN_MS)this.driftPpm=fitDriftPpm(s,this.refLocal)
const{lo,hi}=intersect(s,this.driftPpm*1e-6,this.refLocal,newest.offset)
this.baseOffset=newest.offset+(lo+hi)/2
this.errorBoundMs=Math.max(0,(hi-lo)/2)}dropBeforeStep(){const s=this.samples
const ref=s[s.length-1].mid
const rate=this.driftPpm*1e-6
let lo=-Infinity
let hi=Infinity
for(let i=s.length-1;i>=0;i--){const x=s[i]
const slack=STEP_SLACK_MS+STEP_SLACK_PPM*1e-6*(ref-x.mid)
const corr=rate*(ref-x.mid)
const xlo=x.tMs-x.t4+corr-slack
const xhi=x.tMs-x.t1+corr+slack
if(Math.max(lo,xlo)>Math.min(hi,xhi)){this.samples=s.slice(i+1)
this.driftPpm=0
return}lo=Math.max(lo,xlo+slack)
hi=Math.min(hi,xhi-slack)
if(lo>hi){lo=(lo+hi)/2
hi=lo}}}}const STEP_SLACK_MS=2
const STEP_SLACK_PPM=20
export function intersect(samples,rate,ref,o0){let lo=-Infinity
let hi=Infinity
for(const x of samples){const corr=rate*(ref-x.mid)
lo=Math.max(lo,x.tMs-x.t4-o0+corr)
hi=Math.min(hi,x.tMs-x.t1-o0+corr)}return{lo,hi}}export function fitDriftPpm(samples,ref){if(samples.length<2)return 0
const o0=samples[samples.length-1].offset
const width=ppm=>{const{lo,hi}=intersect(samples,ppm*1e-6,ref,o0)
return hi-lo}
let a=-MAX_DRIFT_PPM
let b=MAX_DRIFT_PPM
const g=(Math.sqrt(5)-1)/2
let c=b-g*(b-a)
let d=a+g*(b-a)
let fc=width(c)
let fd=width(d)
for(let i=0;i<80&&b-a>1e-4;i++){if(fc>=fd){b=d
d=c
fd=fc
c=b-g*(b-a)
fc=width(c)}else{a=c
c=d
fc=fd
d=a+g*(b-a)
fd=width(d)}}const best=(a+b)/2
const span=samples[samples.length-1].mid-samples[0].mid
const tolerance=DRIFT_TOLERANCE_MS*Math.min(1,MIN_DRIFT_SPAN_MS/Math.max(span,1))
const goal=width(best)-tolerance
if(width(0)>=goal)return 0
let lo=0
let hi=best
for(let i=0;i<50;i++){const mid=(lo+hi)/2
if(width(mid)>=goal)hi=mid
else lo=mid}return hi}export const DRIFT_TOLERANCE_MS=.5
export const JOIN_BURST=32
export const JOIN_BURST_MIN=8
export const BURST_SETTLE_MS=.5
export const SETTLE_BOUND_MS=2
export const STEADY_INTERVAL_MS=4e4
export const STEADY_BOUND_MS=2
export function resyncBurst(n){return n<=4?12:8}export function burstMin(n){if(n===0)return JOIN_BURST_MIN
return n<=4?4:2}export function burstSettled(samples,burst,min){let n=0
let lo1=-Infinity
let lo2=-Infinity
let hi1=Infinity
let hi2=Infinity
for(const x of samples){if(x.burst!==burst)continue
n++
const lo=x.tMs-x.t4
const hi=x.tMs-x.t1
if(lo>lo1){lo2=lo1
lo1=lo}else if(lo>lo2)lo2=lo
if(hi<hi1){hi2=hi1
hi1=hi}else if(hi<hi2)hi2=hi}return n>=min&&hi1-lo1<=2*SETTLE_BOUND_MS&&lo1-lo2<=BURST_SETTLE_MS&&hi2-hi1<=BURST_SETTLE_MS}export function burstGapMs(rand){return 30+40*rand()}export function resyncDelayMs(n,rand){const base=Math.min(6e4,5e3*2**Math.max(0,Math.min(n-1,4)))
return base*(.75+.5*rand())}export function steadyDelayMs(rand){return STEADY_INTERVAL_MS*(.75+.5*rand())}export class Schedule{constructor(){this.burst=0
this.sent=0
this.min=JOIN_BURST_MIN
this.max=JOIN_BURST}get steady(){return this.max===1}handleSent(sync,rand){this.sent++
if(this.sent<this.max&&!burstSettled(sync.samples,this.burst,this.min))return burstGapMs(rand)
this.burst++
this.sent=0
if(sync.converged&&sync.errorBoundMs<STEADY_BOUND_MS){this.min=1
this.max=1
return steadyDelayMs(rand)}this.min=burstMin(this.burst)
this.max=resyncBurst(this.burst)
return resyncDelayMs(this.burst,rand)}}export function mulberry32(seed){let a=seed>>>0
return function rand(){a=a+1831565813>>>0
let t=a
t=Math.imul(t^t>>>15,t|1)
t^=t+Math.imul(t^t>>>7,t|61)
return((t^t>>>14)>>>0)/4294967296}}
