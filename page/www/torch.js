// Built from page/src/torch.js by page/test/tools/build.mjs: edit the source.
import{FlashLimiter}from"./safety.js"
const ON=[255,255,255]
const OFF=[0,0,0]
export function torchPossible(o){return!!o&&o.usesTorch===true&&o.secure===true&&!o.reducedMotion&&!!o.mediaDevices&&typeof o.mediaDevices.getUserMedia==="function"}export function trackHasTorch(track){let caps=null
try{caps=track&&typeof track.getCapabilities==="function"?track.getCapabilities():null}catch{return false}const t=caps?caps.torch:undefined
return t===true||Array.isArray(t)&&t.includes(true)}export function torchConstraints(on){return{advanced:[{torch:!!on}]}}export class TorchDriver{constructor(apply){this.apply=apply
this.limiter=new FlashLimiter
this.on=false
this.busy=false
this.calls=0
this.failures=0}handleFrame(nowMs,want){if(this.limiter.shown===null)this.limiter.handleFrame(nowMs,OFF)
const shown=this.limiter.handleFrame(nowMs,want?ON:OFF)
this.set(shown[0]===255)}off(){this.set(false)}set(on){if(on===this.on||this.busy)return
this.on=on
this.busy=true
this.calls++
Promise.resolve().then(()=>this.apply(on)).catch(()=>{this.failures++}).finally(()=>{this.busy=false})}}
