// Built from page/src/safety.js by page/test/tools/build.mjs: edit the source.
const LINEAR=Array.from({length:256},(_,i)=>{const c=i/255
return c<=.04045?c/12.92:((c+.055)/1.055)**2.4})
export function luminance([r,g,b]){return.2126*LINEAR[r]+.7152*LINEAR[g]+.0722*LINEAR[b]}export const SATURATED_RED=.8
export const SATURATION_RAMP_FROM=.75
export function redValue([r,g,b]){const R=LINEAR[r],G=LINEAR[g],B=LINEAR[b]
const sum=R+G+B
if(sum<=0)return 0
const w=Math.min(1,Math.max(0,(R/sum-SATURATION_RAMP_FROM)/(SATURATED_RED-SATURATION_RAMP_FROM)))
return Math.max(0,(R-G-B)*320)*w}export const GENERAL_THRESHOLD=.1
export const RED_THRESHOLD=20
export const MAX_CHANGES=7
export const WINDOW_MS=1e3
export const REDUCED_MOTION_TAU_MS=400
export class ZigZag{constructor(threshold,strict){this.thr=threshold
this.strict=strict
this.dir=0
this.lo=NaN
this.hi=NaN
this.ext=NaN
this.times=[]}meets(d){return this.strict?d>this.thr:d>=this.thr-1e-12}wouldChange(v){if(Number.isNaN(this.lo))return false
if(this.dir===0)return this.meets(v-this.lo)||this.meets(this.hi-v)
if(this.dir===1)return v<=this.ext&&this.meets(this.ext-v)
return v>=this.ext&&this.meets(v-this.ext)}push(now,v){if(Number.isNaN(this.lo)){this.lo=this.hi=v
return}if(this.dir===0){this.lo=Math.min(this.lo,v)
this.hi=Math.max(this.hi,v)
if(v===this.hi&&this.meets(v-this.lo))this.start(1,now,v)
else if(v===this.lo&&this.meets(this.hi-v))this.start(-1,now,v)
return}if(this.dir===1){if(v>this.ext){this.ext=v
this.times[this.times.length-1]=now}else if(this.meets(this.ext-v))this.start(-1,now,v)}else if(v<this.ext){this.ext=v
this.times[this.times.length-1]=now}else if(this.meets(v-this.ext))this.start(1,now,v)}start(dir,now,v){this.dir=dir
this.ext=v
this.times.push(now)}recent(now){while(this.times.length&&this.times[0]<=now-WINDOW_MS)this.times.shift()
return this.times.length}}export class FlashLimiter{constructor({reducedMotion=false}={}){this.reducedMotion=reducedMotion
this.maxChanges=reducedMotion?1:MAX_CHANGES
this.general=new ZigZag(GENERAL_THRESHOLD,false)
this.red=new ZigZag(RED_THRESHOLD,true)
this.shown=null
this.smooth=null
this.lastMs=NaN
this.suppressed=0}handleFrame(nowMs,rgb){let want=rgb
if(this.reducedMotion)want=this.lowPass(nowMs,rgb)
this.lastMs=nowMs
if(this.shown&&want[0]===this.shown[0]&&want[1]===this.shown[1]&&want[2]===this.shown[2]){return this.shown}const l=luminance(want)
const r=redValue(want)
const blocked=this.general.wouldChange(l)&&this.general.recent(nowMs)+1>this.maxChanges||this.red.wouldChange(r)&&this.red.recent(nowMs)+1>this.maxChanges
if(blocked&&this.shown){this.suppressed++
return this.shown}this.general.push(nowMs,l)
this.red.push(nowMs,r)
this.shown=want
return want}lowPass(nowMs,rgb){if(!this.smooth||!Number.isFinite(this.lastMs)){this.smooth=rgb.slice()}else{const dt=Math.max(0,nowMs-this.lastMs)
const k=1-Math.exp(-dt/REDUCED_MOTION_TAU_MS)
for(let i=0;i<3;i++)this.smooth[i]+=(rgb[i]-this.smooth[i])*k}return this.smooth.map(x=>Math.round(x))}}
