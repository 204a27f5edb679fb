/**
 * The page an approval link opens. The token is in the link's fragment, which the browser keeps to itself: the
 * page reads it and POSTs it in the body to the same address, so no server, proxy or access log ever sees it in a
 * URL. It is deliberately plain (no assets, no external requests).
 */
export const APPROVAL_LINK_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Champion: approval</title></head>
<body>
<h1>Champion: approval</h1>
<p id="what">Reading the approval link…</p>
<form id="form" hidden>
  <p><label>Comment <input id="comment" maxlength="1000" size="60"></label></p>
  <p><button id="send" type="submit">Send</button></p>
</form>
<p id="answer" role="status"></p>
<script>
(function () {
  var token = new URLSearchParams(location.hash.slice(1)).get('token');
  // The token leaves the address bar (and the history entry) before anything else happens.
  history.replaceState(null, '', location.pathname);
  var what = document.getElementById('what');
  if (!token) { what.textContent = 'This link has no approval token: open the link exactly as it was sent to you.'; return; }
  var decision = 'approve';
  try { decision = JSON.parse(atob(token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/'))).d; } catch (e) {}
  what.textContent = (decision === 'reject' ? 'Reject' : 'Approve') + ' promotion ' +
    decodeURIComponent(location.pathname.split('/').slice(-2)[0]) + '?';
  var form = document.getElementById('form');
  form.hidden = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    document.getElementById('send').disabled = true;
    fetch(location.pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: token, comment: document.getElementById('comment').value || undefined }),
    }).then(function (res) {
      return res.json().then(function (body) {
        document.getElementById('answer').textContent = res.ok ? 'Done: the promotion took your decision.' : body.error;
      });
    });
  });
})();
</script>
</body>
</html>
`;
