// Built from page/src/sync.js by page/test/tools/build.mjs: edit the source.
export const MAX_SAMPLES=512
export const WINDOW_MS=30*60*1e3
export const MIN_DRIFT_SPAN_MS=10*60*1e3
export const MIN_FIT_SPAN_MS=20*1e3
export const MAX_DRIFT_PPM=100
export const DRIFT_PRIOR_PPM=50
export const MIN_DRIFT_UNC_PPM=.5
export const SPACING_BOUNDS=4
export const MIN_EXCESS_MS=.1
export const MAX_RTT_MS=3e3
export function makeSample(t1,tUs,t4,burst=0){if(!Number.isFinite(t1)||!Number.isFinite(t4)||!Number.isFinite(tUs))return null
const rtt=t4-t1
if(rtt<0||rtt>MAX_RTT_MS)return null
const tMs=tUs/1e3
return{t1,t4,tMs,rtt,mid:(t1+t4)/2,offset:tMs-(t1+t4)/2,burst}}export class ClockSync{constructor(){this.samples=[]
this.driftPpm=0
this.driftUncPpm=DRIFT_PRIOR_PPM
this.driftSpanMs=0
this.refLocal=0
this.baseOffset=NaN
this.errorBoundMs=Infinity
this.levelErrMs=Infinity}get synced(){return Number.isFinite(this.baseOffset)}get converged(){return this.driftSpanMs>=MIN_DRIFT_SPAN_MS}handleSample(sample){if(!sample)return false
this.samples.push(sample)
const newest=sample.t4
this.samples=this.samples.filter(s=>newest-s.t4<=WINDOW_MS&&s.t4<=newest+1).slice(-MAX_SAMPLES)
this.estimate()
return true}offsetAt(localMs){return this.baseOffset+this.driftPpm*1e-6*(localMs-this.refLocal)}beaconUs(localMs){return(localMs+this.offsetAt(localMs))*1e3}predictedErrorMs(localMs){if(!this.synced)return Infinity
return this.levelErrMs+this.driftUncPpm*1e-6*Math.abs(localMs-this.refLocal)}estimate(){this.dropBeforeStep()
const s=this.samples
if(s.length===0)return
const newest=s[s.length-1]
this.refLocal=newest.mid
this.driftSpanMs=newest.mid-s[0].mid
if(this.driftSpanMs>=MIN_FIT_SPAN_MS){const fit=fitDrift(s,this.refLocal)
this.driftPpm=fit.ppm
this.driftUncPpm=fit.uncPpm}else{this.driftPpm=0
this.driftUncPpm=DRIFT_PRIOR_PPM}const b=bestBounds(s,this.driftPpm*1e-6,this.driftUncPpm*1e-6,this.refLocal,newest.offset)
this.baseOffset=newest.offset+(b.lo+b.hi)/2
this.errorBoundMs=Math.abs(b.hi-b.lo)/2
this.levelErrMs=Math.max(MIN_EXCESS_MS,Math.min(this.errorBoundMs,b.likelyMs))}dropBeforeStep(){const s=this.samples
const ref=s[s.length-1].mid
const rate=this.driftPpm*1e-6
const slackPpm=Math.max(STEP_SLACK_PPM,this.driftUncPpm)
let lo=-Infinity
let hi=Infinity
for(let i=s.length-1;i>=0;i--){const x=s[i]
const slack=STEP_SLACK_MS+slackPpm*1e-6*(ref-x.mid)
const corr=rate*(ref-x.mid)
const xlo=x.tMs-x.t4+corr-slack
const xhi=x.tMs-x.t1+corr+slack
if(Math.max(lo,xlo)>Math.min(hi,xhi)){this.samples=s.slice(i+1)
this.driftPpm=0
this.driftUncPpm=DRIFT_PRIOR_PPM
return}lo=Math.max(lo,xlo+slack)
hi=Math.min(hi,xhi-slack)
if(lo>hi){lo=(lo+hi)/2
hi=lo}}}}const STEP_SLACK_MS=2
const STEP_SLACK_PPM=20
export function intersect(samples,rate,ref,o0){let lo=-Infinity
let hi=Infinity
for(const x of samples){const corr=rate*(ref-x.mid)
lo=Math.max(lo,x.tMs-x.t4-o0+corr)
hi=Math.min(hi,x.tMs-x.t1-o0+corr)}return{lo,hi}}export function bestBounds(samples,rate,unc,ref,o0){const k=SPACING_BOUNDS
const los=[]
const his=[]
for(const x of samples){const age=Math.abs(ref-x.mid)
const corr=rate*(ref-x.mid)
const xlo=x.tMs-x.t4-o0+corr
const xhi=x.tMs-x.t1-o0+corr
insertBest(los,{v:-xlo,age},k)
insertBest(his,{v:xhi,age},k)}const lo=-los[0].v
const hi=his[0].v
const spacing=xs=>xs.length<2?Math.max(0,(hi-lo)/2):(xs[xs.length-1].v-xs[0].v)/(xs.length-1)
const excess=(spacing(los)+spacing(his))/2
const ageTerm=unc*((los[0].age+his[0].age)/2)
return{lo,hi,likelyMs:Math.max(MIN_EXCESS_MS,excess+ageTerm)}}function insertBest(xs,item,k){if(xs.length===k&&item.v>=xs[k-1].v)return
let i=xs.length
while(i>0&&xs[i-1].v>item.v)i--
xs.splice(i,0,item)
if(xs.length>k)xs.pop()}export function partFloors(samples,from,to,rate,ref,o0){const k=SPACING_BOUNDS
const los=[]
const his=[]
for(const x of samples){if(x.mid<from||x.mid>=to)continue
const corr=rate*(ref-x.mid)
insertBest(los,{v:-(x.tMs-x.t4-o0+corr),age:x.mid},k)
insertBest(his,{v:x.tMs-x.t1-o0+corr,age:x.mid},k)}if(los.length===0)return null
const spacing=(xs,half)=>xs.length<2?half:(xs[xs.length-1].v-xs[0].v)/(xs.length-1)
const half=Math.max(0,(his[0].v+los[0].v)/2)
return{lo:-los[0].v,loMid:los[0].age,loExcess:Math.max(MIN_EXCESS_MS,spacing(los,half)),hi:his[0].v,hiMid:his[0].age,hiExcess:Math.max(MIN_EXCESS_MS,spacing(his,half))}}const DRIFT_SPLITS=[.25,.5,.75]
export function fitDrift(samples,ref){const prior={ppm:0,uncPpm:DRIFT_PRIOR_PPM}
if(samples.length<2)return prior
const o0=samples[samples.length-1].offset
const first=samples[0].mid
const span=samples[samples.length-1].mid-first
if(!(span>0))return prior
let best=null
for(const f of DRIFT_SPLITS){let rate=0
let m=null
for(let pass=0;pass<2;pass++){const split=first+f*span
const a=partFloors(samples,-Infinity,split,rate,ref,o0)
const b=partFloors(samples,split,Infinity,rate,ref,o0)
if(!a||!b)break
const dtHi=b.hiMid-a.hiMid
const dtLo=b.loMid-a.loMid
if(!(dtHi>0)||!(dtLo>0))break
const up=rate+(b.hi-a.hi)/dtHi
const down=rate+(b.lo-a.lo)/dtLo
const uUp=DRIFT_EXCESS_K*(a.hiExcess+b.hiExcess)/dtHi
const uDown=DRIFT_EXCESS_K*(a.loExcess+b.loExcess)/dtLo
const est=(up+down)/2
const unc=Math.max((uUp+uDown)/2,Math.abs(up-down)/2)
m={ppm:est*1e6,uncPpm:unc*1e6}
rate=est}if(m&&(!best||m.uncPpm<best.uncPpm))best=m}if(!best)return prior
const wData=1/(best.uncPpm*best.uncPpm)
const wPrior=1/(DRIFT_PRIOR_PPM*DRIFT_PRIOR_PPM)
const uncPpm=Math.max(MIN_DRIFT_UNC_PPM,1/Math.sqrt(wData+wPrior))
const centre=best.ppm*wData/(wData+wPrior)
const mm=maxMarginDriftPpm(samples,ref)
const ppm=Math.max(centre-uncPpm,Math.min(centre+uncPpm,mm))
return{ppm:Math.max(-MAX_DRIFT_PPM,Math.min(MAX_DRIFT_PPM,ppm)),uncPpm}}export function maxMarginDriftPpm(samples,ref){if(samples.length<2)return 0
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
export const DRIFT_EXCESS_K=1
export function fitDriftPpm(samples,ref){return fitDrift(samples,ref).ppm}export const JOIN_BURST=32
export const JOIN_BURST_MIN=8
export const BURST_SETTLE_MS=.5
export const SETTLE_BOUND_MS=2
export const STEADY_INTERVAL_MS=4e4
export const BUDGET_MS=2
export const BURST_GOAL_MS=1
export const MIN_RESYNC_MS=5e3
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
return base*(.75+.5*rand())}export function steadyDelayMs(rand){return STEADY_INTERVAL_MS*(.75+.5*rand())}export function budgetDelayMs(sync,budgetMs,rand){const ms=(budgetMs-sync.levelErrMs)/Math.max(1e-9,sync.driftUncPpm*1e-6)
return Math.min(STEADY_INTERVAL_MS,Math.max(MIN_RESYNC_MS,ms))*(.75+.5*rand())}export const MAX_BUDGET_MS=4
export const BUDGET_DIVISOR=100
export const RELAXED_BUDGET_MS=16
export function budgetFor(show,c){if(show&&show.sync==="relaxed")return RELAXED_BUDGET_MS
return c>=0?cueBudgetMs(show,c):BUDGET_MS}export function cueBudgetMs(show,c){const cue=show&&Array.isArray(show.cues)?show.cues[c]:null
if(!cue||!Array.isArray(cue.segs)||cue.segs.length===0)return MAX_BUDGET_MS
const same=(x,y)=>x[0]===y[0]&&x[1]===y[1]&&x[2]===y[2]
const first=g=>g.k==="solid"?g.c:g.a
const last=g=>g.k==="solid"?g.c:g.k==="fade"?g.b:g.a
let fastest=Infinity
cue.segs.forEach((g,i)=>{const prev=i>0?cue.segs[i-1]:cue.end==="loop"&&cue.segs.length>1?cue.segs[cue.segs.length-1]:null
if(prev&&!same(last(prev),first(g)))fastest=0
if(g.k==="fade"&&!same(g.a,g.b))fastest=Math.min(fastest,g.d)
if(g.k==="wave"&&!same(g.a,g.b))fastest=Math.min(fastest,g.shape==="square"?0:Math.floor(g.w/2))})
return Math.min(MAX_BUDGET_MS,Math.max(BUDGET_MS,fastest/BUDGET_DIVISOR))}export class Schedule{constructor(){this.burst=0
this.sent=0
this.min=JOIN_BURST_MIN
this.max=JOIN_BURST
this.budgetMs=BUDGET_MS}get steady(){return this.max===1}handleWake(max){this.burst++
this.sent=0
this.min=burstMin(this.burst)
this.max=Math.max(this.min,max)}handleSent(sync,rand){this.sent++
const pinned=this.sent>=this.min&&sync.synced&&(this.burst>0&&sync.levelErrMs<=BURST_GOAL_MS||burstSettled(sync.samples,this.burst,this.min))
if(this.sent<this.max&&!pinned)return burstGapMs(rand)
this.burst++
this.sent=0
const budget=this.budgetMs
if(sync.predictedErrorMs(sync.refLocal+STEADY_INTERVAL_MS)<=budget){this.min=1
this.max=1
return steadyDelayMs(rand)}this.min=burstMin(this.burst)
this.max=resyncBurst(this.burst)
if(sync.synced&&sync.levelErrMs<=budget){return Math.max(budgetDelayMs(sync,budget,rand),resyncDelayMs(this.burst,rand))}return resyncDelayMs(this.burst,rand)}}export function mulberry32(seed){let a=seed>>>0
return function rand(){a=a+1831565813>>>0
let t=a
t=Math.imul(t^t>>>15,t|1)
t^=t+Math.imul(t^t>>>7,t|61)
return((t^t>>>14)>>>0)/4294967296}}
