// Closes the success page when the browser allows it (windows a chat app opened); elsewhere
// the page simply stays and says the user can close it.
setTimeout(function () { window.close(); }, 4000);
