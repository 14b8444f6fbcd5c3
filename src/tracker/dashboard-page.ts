/**
 * The rollout dashboard, one self-contained page served at `/` (no build step, no assets).
 * It holds no data itself: it asks for a viewer token (kept in sessionStorage, or passed as
 * `#token=...`, a fragment the browser never sends to the server), reads the same JSON API as
 * the CLI and follows the rollout's SSE stream through fetch, which, unlike EventSource, can
 * send the Authorization header. With several tracker replicas (the tracker's --replica-urls,
 * read from /v1/replicas) a request or stream that loses its replica moves on to the next one
 * (the tracker allows those origins by CORS), so a page outlives the replica that served it.
 * Pages (URL fragments): `#/` rollouts, `#/rollout/<release>/<channel>` one rollout live,
 * `#/history/<release>/<channel>` its moves, `#/hosts` every host, `#/host/<id>` one host's
 * versions over time with its report for each (state, error, times, bytes from peers).
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shoal rollouts</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c2733}
header{background:#123;color:#fff;padding:10px 18px;display:flex;gap:16px;align-items:center}
header a{color:#9cf} main{padding:14px 18px} h2{margin:8px 0}
table{border-collapse:collapse;background:#fff} td,th{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:left}
.figs{display:flex;gap:22px;flex-wrap:wrap;margin:8px 0}.fig b{display:block;font-size:22px}
.bar{display:flex;height:18px;width:100%;max-width:900px;background:#dde}.bar span{display:block;height:100%}
.grid{display:flex;flex-wrap:wrap;gap:2px;max-width:900px}.cell{width:9px;height:9px;border-radius:2px}
.group{margin:6px 0}.group h4{margin:2px 0;font-weight:600}
.s-pending{background:#b8c0cc}.s-downloading{background:#4a90d9}.s-verifying{background:#7b68ee}.s-unpacking{background:#9b59b6}
.s-staged{background:#36a9a0}.s-launching{background:#e0a030}.s-running{background:#2eaa55}.s-unhealthy{background:#f07800}.s-failed{background:#d0342c}.s-lost{background:#222}
.w-open{font-weight:600}.w-halted{color:#d0342c;font-weight:600}.halt{background:#fde8e6;border-left:4px solid #d0342c;padding:6px 10px;max-width:900px}
#login{display:none;gap:8px} .muted{color:#667}
</style></head>
<body>
<header><strong>Shoal</strong><a href="#/">rollouts</a><a href="#/hosts">hosts</a><span id="live" class="muted"></span>
<form id="login"><input id="token" type="password" placeholder="viewer token" size="36"><button>Show</button></form></header>
<main id="main"><p class="muted">Loading…</p></main>
<script>
const STATES=['pending','downloading','verifying','unpacking','staged','launching','running','unhealthy','failed','lost']
const $=(s)=>document.querySelector(s)
const esc=(t)=>String(t).replace(/[&<>"]/g,(c)=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]))
const m=/token=([^&]+)/.exec(location.hash); if(m){sessionStorage.setItem('shoalToken',decodeURIComponent(m[1]));location.hash=location.hash.replace(/[?&]?token=[^&]+/,'')||'#/'}
const token=()=>sessionStorage.getItem('shoalToken')
let bases=[location.origin], at=0
// Calls run concurrently (the event stream, the host grid): each moves on from the replica it used
// only if no other call has moved on already, and the answer says which replica gave it.
const next=(base)=>{if(bases[at]===base)at=(at+1)%bases.length}
const api=async(p,opts={})=>{for(let tried=0;;tried++){let r;const base=bases[at]
  try{r=await fetch(base+p,{...opts,headers:{authorization:'Bearer '+token()}})}
  catch(e){if(e.name==='AbortError'||tried>=bases.length-1)throw e;next(base);continue}
  if(r.status>=500&&tried<bases.length-1){next(base);continue}
  if(r.status===401||r.status===403){askToken();throw new Error('token refused')}if(!r.ok)throw new Error(p+': '+r.status);r.base=base;return r}}
async function loadReplicas(){try{const {urls}=await (await api('/v1/replicas')).json();bases=[...new Set([bases[at],...urls.map((u)=>u.replace(/\\/$/,''))])];at=0}catch(e){}}
function askToken(){$('#login').style.display='flex'}
$('#login').addEventListener('submit',(e)=>{e.preventDefault();sessionStorage.setItem('shoalToken',$('#token').value);$('#login').style.display='none';route()})
const secs=(s)=>s==null?'-':s<60?s.toFixed(1)+' s':Math.floor(s/60)+' min '+Math.round(s%60)+' s'
const mib=(b)=>(b/1048576).toFixed(1)+' MiB'
let stream=null
async function listPage(){
  const {channels}=await (await api('/v1/channels')).json()
  const rows=await Promise.all(channels.map(async(c)=>({c,s:await (await api('/v1/rollouts/'+c.release+'/'+c.channel+'/status')).json()})))
  $('#main').innerHTML='<h2>Rollouts</h2><table><tr><th>channel</th><th>version</th><th>running</th><th>failed</th><th>moved</th></tr>'+
    rows.map(({c,s})=>'<tr><td><a href="#/rollout/'+esc(c.release)+'/'+esc(c.channel)+'">'+esc(c.release+'@'+c.channel)+'</a></td><td>'+esc(c.version)+'</td><td>'+s.percentRunning+'%</td><td>'+(s.byState.failed||0)+'</td><td>'+esc(c.movedAt)+'</td></tr>').join('')+'</table>'
}
function renderStatus(s,series){
  const bar=STATES.map((st)=>s.hosts&&s.byState[st]?'<span class="s-'+st+'" title="'+st+' '+s.byState[st]+'" style="width:'+(100*s.byState[st]/s.hosts)+'%"></span>':'').join('')
  const left=s.hosts-(s.byState.running||0)-(s.byState.failed||0)-(s.byState.unhealthy||0)-(s.byState.lost||0), el=(Date.now()-Date.parse(s.movedAt))/1000
  const eta=left===0?'done':(s.byState.running?secs(left*el/s.byState.running):'-')
  // The curve is the tracker's record (each host's first running time), so it is there for a page opened late;
  // a tracker without it leaves the curve to what this page saw.
  const t0=Date.parse(s.movedAt), curve=s.runningCurve?[[0,0],...s.runningCurve.map(([t,n])=>[t*1000,n]),[Math.max(el*1000,(s.runningCurve.at(-1)?.[0]??0)*1000),s.byState.running||0]]:series.map((p)=>[p.t-t0,p.running])
  const tMax=Math.max(1,...curve.map((p)=>p[0]))
  const pts=curve.map(([t,n])=>(t/tMax*600).toFixed(1)+','+(120-(s.hosts?n/s.hosts:0)*110).toFixed(1)).join(' ')
  $('#status').innerHTML='<h2 id="title">'+esc(s.release+'@'+s.channel)+' &rarr; '+esc(s.version)+'</h2><div class="muted">'+esc(s.digest)+' &middot; moved by '+esc(s.movedBy)+' at '+esc(s.movedAt)+'</div>'+
   '<div class="figs"><div class="fig"><b id="pct">'+s.percentRunning+'%</b>running ('+(s.byState.running||0)+'/'+s.hosts+')</div><div class="fig"><b>'+secs(s.timeToRunningSeconds.p50)+'</b>p50 to running</div><div class="fig"><b>'+secs(s.timeToRunningSeconds.p90)+'</b>p90</div><div class="fig"><b>'+secs(s.timeToRunningSeconds.max)+'</b>max</div><div class="fig"><b>'+eta+'</b>ETA</div><div class="fig"><b>'+(s.originOffload==null?'-':Math.round(s.originOffload*100)+'%')+'</b>from peers ('+mib(s.bytesFromPeers)+' / origin '+mib(s.bytesFromOrigin)+')</div>'+(s.bytesDerived?'<div class="fig"><b id="derived">'+mib(s.bytesDerived)+'</b>derived on hosts (not fetched)</div>':'')+'</div>'+
   '<div class="bar">'+bar+'</div><div class="muted">'+STATES.filter((st)=>s.byState[st]).map((st)=>st+' '+s.byState[st]).join(' &middot; ')+'</div>'+
   planView(s)+
   '<h3>Hosts running over time</h3><svg width="620" height="130" style="background:#fff"><polyline fill="none" stroke="#2eaa55" stroke-width="2" points="'+pts+'"/></svg>'+
   '<h3>Failures</h3>'+(s.failures.length?'<table><tr><th>code</th><th>hosts</th><th>examples</th></tr>'+s.failures.map((f)=>'<tr><td>'+esc(f.code)+'</td><td>'+f.count+'</td><td>'+esc(f.exampleHosts.join(', '))+'</td></tr>').join('')+'</table>':'<p class="muted">none</p>')
}
function planView(s){
  const p=s.plan; if(!p) return '<p class="muted">plain move: one wave, no gates</p>'
  const g=p.gates, pr=p.progress
  const bake=pr.bakeUntil?Math.max(0,Math.ceil((Date.parse(pr.bakeUntil)-Date.now())/1000)):null
  return '<h3>Plan: <span id="plan-state">'+esc(pr.state)+(pr.rolledBack?', rolled back to '+esc(p.fromVersion??'-'):'')+'</span></h3>'+
   (pr.reason?'<div class="halt" id="halt-reason">'+esc(pr.reason)+'</div>':'')+
   '<div class="muted">waves '+esc(g.waves.join(', '))+(g.by?' by '+esc(g.by):'')+' &middot; max unavailable '+esc(g.maxUnavailable)+' per domain &middot; bake '+g.bakeSeconds+' s &middot; halt after '+esc(g.haltAfter)+(g.autoRollback?' &middot; auto-rollback':'')+'</div>'+
   '<table id="waves"><tr><th>wave</th><th>hosts</th><th>running</th><th>failed</th><th>state</th></tr>'+p.waves.map((w,i)=>'<tr class="w-'+w.state+'"><td>'+(i+1)+'</td><td>'+w.hosts+'</td><td>'+w.running+'</td><td>'+w.failed+'</td><td>'+esc(w.state)+(w.state==='baking'&&bake!==null?' ('+bake+' s left)':'')+'</td></tr>').join('')+'</table>'
}
async function renderHosts(release,channel){
  const {hosts}=await (await api('/v1/hosts')).json()
  const key=release+'@'+channel, by=$('#groupby')?.value||'region', groups=new Map()
  for(const h of hosts){const t=h.targets.find((x)=>x.follow===key);if(!t)continue;const g=h.labels[by]||'(no '+by+')';if(!groups.has(g))groups.set(g,[]);groups.get(g).push([h,t])}
  $('#hosts').innerHTML=[...groups].sort().map(([g,list])=>'<div class="group"><h4>'+esc(g)+' <span class="muted">'+list.filter(([,t])=>t.state==='running').length+'/'+list.length+' running</span></h4><div class="grid">'+list.map(([h,t])=>'<a class="cell s-'+t.state+'" href="#/host/'+encodeURIComponent(h.id)+'" title="'+esc(h.id+': '+t.state+(t.errorCode?' '+t.errorCode:''))+'"></a>').join('')+'</div></div>').join('')
}
async function rolloutPage(release,channel){
  $('#main').innerHTML='<div id="status"></div><p><a id="history-link" href="#/history/'+release+'/'+channel+'">history of '+esc(decodeURIComponent(release)+'@'+decodeURIComponent(channel))+'</a></p><h3>Hosts by <select id="groupby"><option>region</option><option>rack</option><option>zone</option></select></h3><div id="hosts"></div>'
  $('#groupby').addEventListener('change',()=>renderHosts(release,channel))
  const series=[]; let hostsDue=0, hostsTimer
  const ctl=new AbortController(); stream=ctl
  // A stream that breaks (its replica gone or restarting) is opened again, on the next replica when this one does not answer.
  let on // the replica the stream last came from
  for(let first=true;!ctl.signal.aborted;first=false){
    try{
      if(!first){$('#live').textContent='reconnecting…';await new Promise((r)=>setTimeout(r,1000));if(on)next(on)}
      const r=await api('/v1/rollouts/'+release+'/'+channel+'/events',{signal:ctl.signal}); on=r.base
      $('#live').textContent='live'+(bases.length>1?' ('+new URL(r.base).host+')':'')
      const reader=r.body.getReader(), dec=new TextDecoder(); let buf=''
      for(;;){const {value,done}=await reader.read(); if(done)break; buf+=dec.decode(value,{stream:true}); let cut
        while((cut=buf.indexOf('\\n\\n'))>=0){const ev=buf.slice(0,cut);buf=buf.slice(cut+2);const d=ev.split('\\n').find((l)=>l.startsWith('data: '));if(!d)continue
          const s=JSON.parse(d.slice(6)); if(series.version!==s.version){series.length=0;series.version=s.version} series.push({t:Date.now(),running:s.byState.running||0}); renderStatus(s,series)
          // The host grid is refreshed at most once a second, and always after the last change.
          clearTimeout(hostsTimer); const wait=Math.max(0,hostsDue-Date.now())
          hostsTimer=setTimeout(()=>{hostsDue=Date.now()+1000;renderHosts(release,channel).catch(()=>{})},wait)}}
    }catch(e){if(e.name==='AbortError'||e.message==='token refused')throw e}
  }
}
const when=(t)=>t?esc(t.replace('T',' ').replace(/\\.\\d+Z$/,'Z')):'-'
const stateCell=(st)=>st?'<span class="cell s-'+esc(st)+'" style="display:inline-block"></span> '+esc(st):'<span class="muted">no report</span>'
async function hostsPage(){
  const {hosts}=await (await api('/v1/hosts')).json()
  $('#main').innerHTML='<h2>Hosts</h2><table><tr><th>host</th><th>labels</th><th>targets</th><th>last seen</th></tr>'+hosts.map((h)=>'<tr><td><a href="#/host/'+encodeURIComponent(h.id)+'">'+esc(h.id)+'</a></td><td>'+esc(Object.entries(h.labels).map(([k,v])=>k+'='+v).join(' '))+'</td><td>'+h.targets.map((t)=>esc(t.follow+' '+(t.version??'-')+' ')+stateCell(t.state)+(t.errorCode?' '+esc(t.errorCode):'')).join('<br>')+'</td><td>'+when(h.lastSeen)+'</td></tr>').join('')+'</table>'
}
async function hostPage(id){
  const h=await (await api('/v1/hosts/'+encodeURIComponent(id))).json()
  $('#main').innerHTML='<h2 id="host-title">'+esc(h.id)+'</h2><div class="muted">'+esc(Object.entries(h.labels).map(([k,v])=>k+'='+v).join(' ')||'no labels')+' &middot; last seen '+when(h.lastSeen)+'</div>'+
    h.channels.map((c)=>{const [r,ch]=c.follow.split('@');return '<h3><a href="#/rollout/'+encodeURIComponent(r)+'/'+encodeURIComponent(ch)+'">'+esc(c.follow)+'</a></h3><table class="host-moves"><tr><th>version</th><th>moved</th><th>state</th><th>error</th><th>first report</th><th>running at</th><th>last report</th><th>from peers / fetched</th><th>derived</th></tr>'+
      c.moves.map((m)=>{const p=m.report;return '<tr><td>'+esc(m.version)+'</td><td>'+when(m.at)+' by '+esc(m.by)+'</td><td>'+stateCell(p?.state)+'</td><td>'+(p?.errorCode?esc(p.errorCode+(p.message?': '+p.message:'')):'')+'</td><td>'+when(p?.firstReportAt)+'</td><td>'+when(p?.runningAt)+'</td><td>'+when(p?.at)+'</td><td>'+(p?mib(p.bytesFromPeers)+' / '+mib(p.bytesFromPeers+p.bytesFromOrigin):'-')+'</td><td>'+(p&&p.bytesDerived?mib(p.bytesDerived):'-')+'</td></tr>'}).join('')+'</table>'}).join('')
}
async function historyPage(release,channel){
  const {rollouts}=await (await api('/v1/channels/'+release+'/'+channel+'/history')).json()
  $('#main').innerHTML='<h2>History of <a href="#/rollout/'+release+'/'+channel+'">'+esc(decodeURIComponent(release)+'@'+decodeURIComponent(channel))+'</a></h2><table id="history"><tr><th>at</th><th>from</th><th>to</th><th>digest</th><th>by</th><th>plan</th></tr>'+
    rollouts.slice().reverse().map((r)=>'<tr><td>'+when(r.at)+'</td><td>'+esc(r.fromVersion??'-')+'</td><td>'+esc(r.toVersion)+'</td><td class="muted">'+esc(r.digest.slice(0,19))+'…</td><td>'+esc(r.by)+'</td><td>'+(r.progress?esc(r.progress.state+(r.progress.rolledBack?', rolled back':''))+'<br><span class="muted">'+r.progress.events.map((e)=>when(e.at)+' '+esc(e.what)+(e.by!=='tracker'?' by '+esc(e.by):'')+(e.detail?': '+esc(e.detail):'')).join('<br>')+'</span>':'<span class="muted">plain move</span>')+'</td></tr>').join('')+'</table>'
}
async function route(){
  stream?.abort(); stream=null
  if(!token()) return askToken()
  if(bases.length===1) await loadReplicas()
  const m=/^#\\/rollout\\/([^/]+)\\/([^/]+)/.exec(location.hash), hm=/^#\\/history\\/([^/]+)\\/([^/]+)/.exec(location.hash), host=/^#\\/host\\/([^/]+)/.exec(location.hash)
  try{ if(m) await rolloutPage(m[1],m[2]); else if(hm) await historyPage(hm[1],hm[2]); else if(host) await hostPage(decodeURIComponent(host[1])); else if(location.hash==='#/hosts') await hostsPage(); else await listPage() }catch(e){ if(e.name!=='AbortError') $('#main').innerHTML='<p>'+esc(e.message)+'</p>' }
}
addEventListener('hashchange',route); route()
</script></body></html>
`
