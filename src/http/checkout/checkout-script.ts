// The checkout page's only script: countdown, live status (SSE, polling as fallback), the sandbox buttons and
// the choice of a real channel, whose own QR it shows in place (from a <template> the server rendered). A channel's
// code that the channel stops taking after a while (WeChat Pay's, after 2 hours) is asked for again once its time is
// up, while the tab is shown (at once when it is shown again): the current code replaces it, or, if the channel
// will not give one, the stale code goes and the page says to try again.
// Plain ES5-level DOM and fetch in a string, so the page needs no bundler and no second request and still runs
// in the older WebViews inside chat and wallet apps (hence no replaceChildren, arrow functions or classes).
// It reads everything it needs from data-* attributes, which the server escapes, never from inline JSON.
// Where fetch is missing, the forms post as plain forms (the no-script path); a disabled button gives its focus back.
// When the countdown reaches zero it asks the server rather than deciding alone: the server's clock is the one
// that counts, and a payment may have won at the last second. An SSE error (a proxy that buffers or drops the
// stream) switches to polling for good, so the page never goes stale. A hidden tab lets its stream go: over
// HTTP/1.1 a browser keeps at most six connections to one host, and pages left open in the background would
// otherwise hold them all, so that a seventh page, or a tap on Pay, waits for ever. Shown again, it looks anew;
// a page opened in a background tab opens its stream only once it is first shown.
// An end state is not always the last word: a payment that won at the last second turns an order shown expired
// paid, one that came too late is given back and said under the end state (the status stays), a merchant refunds.
// So a page at an end state (loaded so, or having reached one) asks for itself again every WATCH_EVERY_MS while
// its tab is shown, for WATCH_FOR_MS at most, and shows what a fresh load would. The page, not /status: only the
// page says all of these, and the server keeps it rendered. A slow poll, not the stream: that would hold a
// connection and read the order every two seconds, for a change that seldom comes. Each ask after the first sends
// the ETag it was last given, so an unchanged page costs a 304 with no body. What changed is put into the end
// state's own section, a live region already on the page, so a screen reader says it; a changed heading takes the
// focus, an unchanged one stays as it is (with the focus, if it had it).
// The subject and description (#tx's children) are clamped by the stylesheet; the More button is shown only when
// that cut some of them (measured again when the window's size changes, say on rotating the phone).

/** How often a page at an end state asks for itself again, and for how long after the end state it does. */
export const WATCH_EVERY_MS = 20_000
export const WATCH_FOR_MS = 30 * 60_000
/** How long one such ask may take before it is given up (the next is asked on schedule). */
export const ASK_TIMEOUT_MS = 10_000

/**
 * The readable source. Pages carry its minified form, CHECKOUT_SCRIPT in checkout-script.min.ts, which
 * `npm run minify-script` writes from it (a test fails while the two differ).
 */
export const CHECKOUT_SCRIPT_SOURCE = `(function(){
var d=document,root=d.getElementById('co');if(!root)return;
var tx=d.getElementById('tx'),mo=d.getElementById('mo'),mt=mo&&mo.textContent;
function fit(){if(!tx.className)mo.hidden=[].every.call(tx.children,function(e){return e.scrollHeight<=e.clientHeight+1})}
if(mo){mo.onclick=function(){var o=!tx.className;tx.className=o?'op':'';mo.setAttribute('aria-expanded',o);mo.textContent=o?mo.dataset.less:mt};fit();window.onresize=fit}
var ds=root.dataset,base='/pay/'+ds.token,live=d.getElementById('live'),status=ds.status,done=status!=='pending',es=null,poller=0,polling=false,hid=false,gen=0;
var t0=performance.now(),left=+ds.left||0,clock=d.getElementById('left'),timer=0,since=t0,watcher=0,asking=false,tag='',renewer=0,stale=null;
function pad(n){return(n<10?'0':'')+n}
function each(l,f){for(var i=0;i<l.length;i++)f(l[i])}
function tick(){
var s=Math.max(0,Math.ceil((left-(performance.now()-t0))/1000));
if(clock){clock.textContent=(s>=3600?Math.floor(s/3600)+':'+pad(Math.floor(s/60)%60):Math.floor(s/60))+':'+pad(s%60);if(s<60&&clock.parentNode.className==='tm')clock.parentNode.className='tm soon'}
if(s===0){clearInterval(timer);check()}
}
function settle(){done=true;clearInterval(timer);clearTimeout(poller);clearTimeout(renewer);if(es){es.close();es=null}since=performance.now();watch()}
function show(el){live.parentNode.replaceChild(el,live);live=el;var h=live.querySelector('h2');if(h)h.focus();return h}
function apply(s){
if(done||!s||s===status||s==='pending')return;
status=s;root.dataset.status=s;settle();
var tpl=d.getElementById('t-'+(s==='expired'||s==='closed'?s:'paid'));
if(!tpl)return;
var el=live.cloneNode(false);el.appendChild(tpl.content.cloneNode(true));
var h=show(el);if(h)d.title=h.textContent+' · '+d.title;
}
function can(){return!d.hidden&&performance.now()-since<${WATCH_FOR_MS}}
function watch(){clearTimeout(watcher);if(can())watcher=setTimeout(refresh,${WATCH_EVERY_MS})}
function renew(el){
var os=live.querySelector('.end'),ns=el.querySelector('.end'),oh=os&&os.querySelector('h2'),nh=ns&&ns.querySelector('h2');
if(!oh||!nh)return show(d.importNode(el,true));
os.className=ns.className;
if(oh.textContent!==nh.textContent){os.innerHTML=ns.innerHTML;os.querySelector('h2').focus();return}
while(oh.nextSibling)os.removeChild(oh.nextSibling);
while(nh.nextSibling)os.appendChild(d.adoptNode(nh.nextSibling))
}
function refresh(){
if(asking)return;asking=true;
var ac=window.AbortController?new AbortController():null,stop=setTimeout(function(){if(ac)ac.abort()},${ASK_TIMEOUT_MS}),end=function(){clearTimeout(stop);asking=false;watch()};
fetch(base+'?lang='+d.documentElement.lang,{cache:'no-store',headers:tag?{'If-None-Match':tag}:{},signal:ac?ac.signal:null}).then(function(r){if(r.status!==200)return'';tag=r.headers.get('etag')||'';return r.text()}).then(function(t){
var n=new DOMParser().parseFromString(t,'text/html'),co=n.getElementById('co'),el=co&&n.getElementById('live');
if(!el||co.dataset.status==='pending'||el.innerHTML===live.innerHTML)return;
status=root.dataset.status=co.dataset.status;renew(el);d.title=n.title
}).then(end,end)
}
function check(){
return fetch(base+'/status',{cache:'no-store'}).then(function(r){return r.ok?r.json():null}).then(function(j){if(j)apply(j.status)},function(){});
}
function poll(){polling=true;if(done||hid)return;var g=gen;check().then(function(){if(!done&&!hid&&g===gen)poller=setTimeout(poll,2000)})}
function listen(){
if(polling||!window.EventSource){poll();return}
es=new EventSource(base+'/events');
es.addEventListener('status',function(e){try{apply(JSON.parse(e.data).status)}catch(_){}});
es.onerror=function(){if(done)return;if(es){es.close();es=null}poll()};
}
d.addEventListener('visibilitychange',function(){
if(done){clearTimeout(watcher);if(can())refresh();return}
if(d.hidden){hid=true;gen++;if(es){es.close();es=null}clearTimeout(poller)}
else{if(hid){hid=false;listen()}if(stale)again()}
});
function say(t){var m=d.getElementById('msg');if(m)m.textContent=t}
function qr(f,j){
var tpl=d.getElementById('q-'+j.channel),box=d.getElementById('cq');if(!tpl||!box)return;
box.textContent='';box.appendChild(tpl.content.cloneNode(true));
var im=box.querySelector('img');if(im)im.src=j.qr_url;
if(j.qr_left_ms!=null)box.firstChild.setAttribute('data-left',j.qr_left_ms);due(f,j.qr_left_ms);
var ps=live.querySelectorAll('.pick');for(var i=0;i<ps.length;i++)ps[i].removeAttribute('aria-current');
f.querySelector('button').setAttribute('aria-current','true');
var pq=live.querySelector('.qr');if(pq)pq.parentNode.removeChild(pq);
if(j.page_url&&history.replaceState)history.replaceState(null,'',j.page_url);
if(box.scrollIntoView)box.scrollIntoView(false);
}
function post(f){return fetch(f.action,{method:'POST',headers:{accept:'application/json'}}).then(function(r){return r.json().then(function(j){if(!r.ok)throw j;return j})})}
function due(f,ms){clearTimeout(renewer);stale=null;if(ms!=null&&!done)renewer=setTimeout(function(){stale=f;if(!d.hidden)again()},Math.max(ms+1000,5000))}
function again(){var f=stale;stale=null;if(!f||done)return;post(f).then(function(j){if(j.qr_url)qr(f,j);apply(j.status)},function(j){
if(done)return;d.getElementById('cq').textContent='';say(f.getAttribute('data-fail'));if(j&&j.error&&j.error.code==='order_not_pending')check()})}
d.addEventListener('submit',function(e){
var f=e.target;if(!f||!f.hasAttribute||!f.hasAttribute('data-js'))return;
if(!window.fetch||!window.Promise)return;
e.preventDefault();
var bs=live.querySelectorAll('button'),fb=d.activeElement;each(bs,function(b){b.disabled=true});
root.setAttribute('aria-busy','true');say('');
post(f)
.then(function(j){if(j.declined)say(ds.declined);if(j.qr_url)qr(f,j);apply(j.status)},function(j){
var c=j&&j.error&&j.error.code;
say(c==='channel_failed'?f.getAttribute('data-fail'):c==='channel_unavailable'?ds.unavailable:c==='rate_limited'?ds.busy:ds.failed);
if(c==='order_not_pending')check()})
.then(function(){each(bs,function(b){b.disabled=false});root.removeAttribute('aria-busy');if(fb&&fb.focus&&d.body.contains(fb)&&(d.activeElement===d.body||!d.activeElement))fb.focus()});
});
if(done)watch();else{timer=setInterval(tick,1000);tick();if(d.hidden)hid=true;else listen();
var cq=d.querySelector('#cq [data-left]'),cur=live.querySelector('.pick[aria-current]');if(cq&&cur)due(cur.form,+cq.getAttribute('data-left'))}
})()`
