// Built from page/src/show.js by page/test/tools/build.mjs: edit the source.
const BLACK=[0,0,0]
const div=(x,y)=>Math.trunc(x/y)
const mod=(x,y)=>(x%y+y)%y
function lerp(a,b,num,den){return[a[0]+div((b[0]-a[0])*num,den),a[1]+div((b[1]-a[1])*num,den),a[2]+div((b[2]-a[2])*num,den)]}function level(phase,w,shape){if(phase>=w)return 0
if(shape==="square")return 1e3
const d=2*phase
return d<=w?div(d*1e3,w):div((2*w-d)*1e3,w)}function segColour(seg,z,u){switch(seg.k){case"solid":return seg.c
case"fade":return lerp(seg.a,seg.b,u,seg.d)
case"wave":{const q=seg.pos[z]
if(q===undefined||q<0)return seg.a
const phase=mod(u-q*seg.off,seg.p)
return lerp(seg.a,seg.b,level(phase,seg.w,seg.shape),1e3)}default:return BLACK}}export function colourAt(show,z,c,t){const cue=show.cues[c]
if(!cue||!Number.isInteger(z)||z<0||z>=show.zones.length)return BLACK
t=Math.max(0,Math.floor(t))
const segs=cue.segs
if(t>=cue.dur){if(cue.end==="loop")t=mod(t,cue.dur)
else if(cue.end==="end")return BLACK
else{const last=segs[segs.length-1]
return segColour(last,z,last.d)}}let lo=0
let hi=segs.length-1
while(lo<hi){const mid=lo+hi+1>>1
if(segs[mid].t<=t)lo=mid
else hi=mid-1}const seg=segs[lo]
return segColour(seg,z,t-seg.t)}export const TORCH_LEVEL=128
export function torchAt(show,z,c,t){const cue=show.cues[c]
if(!cue||cue.torch!==true)return false
return Math.max(...colourAt(show,z,c,t))>=TORCH_LEVEL}export function usesTorch(show){return!!show&&Array.isArray(show.cues)&&show.cues.some(c=>c.torch===true)}export function cueIndex(show,name){return show.cues.findIndex(c=>c.name===name)}export function zoneIndex(show,name){return show.zones.indexOf(name)}const isColour=c=>Array.isArray(c)&&c.length===3&&c.every(x=>Number.isInteger(x)&&x>=0&&x<=255)
const isNat=x=>Number.isInteger(x)&&x>=0&&x<=864e5
export function validateShow(show){if(!show||typeof show!=="object")return"not an object"
if(show.format!==1)return`unknown format ${show.format}`
if(!Array.isArray(show.zones)||show.zones.length<1||!show.zones.every(z=>typeof z==="string"))return"bad zones"
if(!Array.isArray(show.cues)||show.cues.length<1)return"no cues"
if(show.sync!=null&&show.sync!=="relaxed")return"bad sync"
for(const cue of show.cues){if(typeof cue.name!=="string"||!["hold","loop","end"].includes(cue.end))return"bad cue"
if(cue.torch!==undefined&&cue.torch!==true)return`bad torch in cue ${cue.name}`
if(!isNat(cue.dur)||cue.dur<1||!Array.isArray(cue.segs)||cue.segs.length<1)return`bad cue ${cue.name}`
let t=0
for(const s of cue.segs){if(s.t!==t||!isNat(s.d)||s.d<1)return`bad segment times in cue ${cue.name}`
t+=s.d
const ok=s.k==="solid"?isColour(s.c):s.k==="fade"?isColour(s.a)&&isColour(s.b):s.k==="wave"?isColour(s.a)&&isColour(s.b)&&isNat(s.p)&&s.p>=1&&isNat(s.w)&&s.w>=1&&s.w<=s.p&&(s.shape==="square"||s.shape==="tri")&&isNat(s.off)&&Array.isArray(s.pos)&&s.pos.length===show.zones.length&&s.pos.every(q=>Number.isInteger(q)&&q>=-1&&q<=63):false
if(!ok)return`bad segment in cue ${cue.name}`}if(t!==cue.dur)return`cue ${cue.name}: segments do not add up to dur`}return null}export function hex(rgb){return"#"+rgb.map(x=>x.toString(16).padStart(2,"0")).join("")}
