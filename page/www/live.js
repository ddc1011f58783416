// Built from page/src/live.js by page/test/tools/build.mjs: edit the source.
export function parseHex(text){if(typeof text!=="string"||!/^#[0-9a-fA-F]{6}$/.test(text))return null
return[1,3,5].map(i=>parseInt(text.slice(i,i+2),16))}export function parseLive(body){if(!body||typeof body.live!=="object"||body.live===null||!Number.isSafeInteger(body.live_at))return null
const zones=new Map
for(const[name,hex]of Object.entries(body.live)){const rgb=parseHex(hex)
if(rgb)zones.set(name,rgb)}const fade=Number.isSafeInteger(body.live_fade)&&body.live_fade>0?body.live_fade:0
return{at:body.live_at,fade,zones}}const mix=(a,b,k)=>a.map((x,i)=>Math.round(x+(b[i]-x)*k))
export class LiveLayers{constructor(){this.layers=[]}handleLayer(layer){if(!layer)return
const last=this.layers[this.layers.length-1]
if(last&&last.at===layer.at&&last.fade===layer.fade)return
this.layers.push(layer)
this.layers.sort((a,b)=>a.at-b.at)
if(this.layers.length>4)this.layers.shift()}colourAt(zone,us,base){let i=-1
for(let j=0;j<this.layers.length;j++)if(this.layers[j].at<=us)i=j
if(i<0)return null
const layer=this.layers[i]
const to=layer.zones.get(zone)||null
const prev=i>0?this.layers[i-1].zones.get(zone)||null:null
const k=layer.fade>0?Math.min(1,(us-layer.at)/layer.fade):1
if(k>=1)return to
if(!to&&!prev)return null
return mix(prev||base,to||base,k)}}
